"""
The page at /: of the web directory only the page's own files are served (:class:`PageFiles` says which), so
nothing else a deployment keeps there (npm's files, dotfiles, directories) leaks out of the web port.
"""
import os
import posixpath
import re
from html.parser import HTMLParser
from typing import Optional
from urllib.parse import unquote, urlsplit

from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.static import File

SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*\Z")  # no dotfiles, no "..", no separators
MAX_PATH_LENGTH = 512
CODE_DIRECTORIES = {"js": ".js", "css": ".css"}  # the page's own modules and stylesheets, any file of that type
REFERENCING_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "source": "src", "audio": "src",
                          "video": "src", "track": "src"}


class _References(HTMLParser):
    """The URLs an HTML page loads (scripts, stylesheets, images): not its links to other pages."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list = []

    def handle_starttag(self, tag, attrs):
        wanted = REFERENCING_ATTRIBUTES.get(tag)
        self.urls.extend(value for name, value in attrs if name == wanted and value)


def local_path(url: str) -> Optional[str]:
    """The file path (relative to the web directory) that ``url``, found in a top-level page, loads; None
    when it is on another origin (a scheme or host), a data: URL, or climbs out of the directory."""
    parts = urlsplit(url.strip())
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = posixpath.normpath(posixpath.join("/", unquote(parts.path)))
    return path.lstrip("/") or None


class PageFiles:
    """Which files of the web directory are the page, so that nothing else in it is served.

    Served: the HTML pages at its top (``index.html`` also at ``/``), every
    ``js/**.js`` and ``css/**.css`` (ES modules import each other), and the
    files those pages load with ``<script src>``, ``<link href>``, ``<img src>``
    (so the one AutobahnJS bundle in node_modules, not the rest of it). Not
    served: directories (no listings), dotfiles, npm's files, anything else.
    The pages are re-read when they change, so a page added at run time is
    served at once.
    """

    def __init__(self, web_dir: str) -> None:
        self.web_dir = web_dir
        self._pages_seen: tuple = ()
        self._referenced: frozenset = frozenset()

    def resolve(self, path: bytes) -> Optional[str]:
        """The file to serve for the request path ``path`` (percent-decoded, without the leading /), or None."""
        if len(path) > MAX_PATH_LENGTH:
            return None
        try:
            name = path.decode("utf-8") or "index.html"
        except UnicodeDecodeError:
            return None
        segments = name.split("/")
        if not all(SAFE_SEGMENT.match(segment) for segment in segments) or not self._is_page_file(segments):
            return None
        full = os.path.join(self.web_dir, *segments)
        return full if os.path.isfile(full) else None

    def _is_page_file(self, segments: list) -> bool:
        if len(segments) == 1 and segments[0].endswith(".html"):
            return True
        suffix = CODE_DIRECTORIES.get(segments[0])
        if suffix is not None and len(segments) > 1 and segments[-1].endswith(suffix):
            return True
        return "/".join(segments) in self.referenced()

    def referenced(self) -> frozenset:
        """Every local file the top-level pages load; parsed again only when a page is added or changed."""
        pages = self._top_level_pages()
        if pages != self._pages_seen:
            self._referenced = frozenset(self._parse(name for name, _, _ in pages))
            self._pages_seen = pages
        return self._referenced

    def _top_level_pages(self) -> tuple:
        try:
            with os.scandir(self.web_dir) as entries:
                return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries
                                    if e.name.endswith(".html") and SAFE_SEGMENT.match(e.name) and e.is_file()))
        except OSError:
            return ()

    def _parse(self, names) -> set:
        found: set = set()
        for name in names:
            parser = _References()
            try:
                with open(os.path.join(self.web_dir, name), encoding="utf-8", errors="replace") as f:
                    parser.feed(f.read())
            except OSError:
                continue
            found.update(p for p in map(local_path, parser.urls) if p is not None)
        return found


class StaticFile(Resource):
    """One file of the page, whatever path segments follow (a leaf: nothing below a file)."""

    isLeaf = True

    def __init__(self, path: str) -> None:
        super().__init__()
        self._file = File(path)

    def render(self, request):
        return self._file.render(request)


NOT_FOUND = notFound("No Such Resource", "No such page or file.")


class PageResource(Resource):
    """The site's root: its children (/ws, /healthz, /metrics), else a file of :class:`PageFiles`, else 404."""

    def __init__(self, web_dir: str) -> None:
        super().__init__()
        self.files = PageFiles(web_dir)

    def getChild(self, name, request):
        path = b"/".join([name, *request.postpath])
        found = self.files.resolve(path)
        return StaticFile(found) if found is not None else NOT_FOUND
