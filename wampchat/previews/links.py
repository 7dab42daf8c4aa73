"""Finding the link a message is previewed by: its first http(s) URL."""
import re
from typing import Optional

URL_PATTERN = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?'\"*_~"    # punctuation that ends a sentence rather than the URL
CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}


def first_url(text: str) -> Optional[str]:
    """The first http(s) URL in ``text`` as written, without the punctuation that follows it in prose
    (``see https://x.org/a.`` gives ``https://x.org/a``; a ``)`` stays when the URL opened one)."""
    match = URL_PATTERN.search(text)
    if match is None:
        return None
    url = match.group(0)
    while url:
        last = url[-1]
        if last in TRAILING or (last in CLOSERS and url.count(CLOSERS[last]) < url.count(last)):
            url = url[:-1]
        else:
            break
    return url if len(url) > len("https://") else None
