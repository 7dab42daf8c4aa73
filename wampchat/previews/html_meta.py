"""A page's title and description for its preview: og:title and og:description, else <title> and the
description meta tag; only the head is read, whitespace is collapsed and the text cut to a sane length."""
import codecs
import re
import unicodedata
from html.parser import HTMLParser
from typing import Optional

MAX_TITLE = 200
MAX_DESCRIPTION = 500
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
TITLE_KEYS = ("og:title", "twitter:title")
DESCRIPTION_KEYS = ("og:description", "description", "twitter:description")


class _HeadEnded(Exception):
    """The body began: everything a preview uses is in the head."""


class _HeadReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict = {}
        self.title: Optional[str] = None
        self._in_title = False
        self._title_parts: list = []

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            raise _HeadEnded()
        if tag == "title" and self.title is None:
            self._in_title = True
        elif tag == "meta":
            values = {name: value or "" for name, value in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values:
                self.meta.setdefault(key, values["content"])

    def handle_endtag(self, tag):
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._title_parts)

    def handle_data(self, data):
        if self._in_title:
            self._title_parts.append(data)


def clean(text: Optional[str], limit: int) -> str:
    """``text`` on one line, without control characters, at most ``limit`` characters (cut with an ellipsis)."""
    if not text:
        return ""
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C") or c.isspace())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def decode(body: bytes, charset: Optional[str]) -> str:
    """The page as text: the header's charset, else the one a meta tag names early on, else UTF-8."""
    if not charset:
        found = META_CHARSET.search(body[:4096])
        charset = found.group(1).decode("ascii") if found else None
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return body.decode(codec, errors="replace")


def page_meta(body: bytes, charset: Optional[str] = None) -> Optional[dict]:
    """``{title, description}`` of an HTML page, or None when it has neither."""
    reader = _HeadReader()
    try:
        reader.feed(decode(body, charset))
        reader.close()
    except _HeadEnded:
        pass
    if reader._in_title:   # the page ended (or was cut) inside <title>
        reader.title = "".join(reader._title_parts)
    title = next((reader.meta[k] for k in TITLE_KEYS if reader.meta.get(k, "").strip()), reader.title)
    description = next((reader.meta[k] for k in DESCRIPTION_KEYS if reader.meta.get(k, "").strip()), "")
    title, description = clean(title, MAX_TITLE), clean(description, MAX_DESCRIPTION)
    if not title and not description:
        return None
    return {"title": title, "description": description}
