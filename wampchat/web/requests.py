"""
What every request gets before any resource sees it: the security headers on its response, and a clear 4xx
when it is not GET or HEAD or its target is malformed, so that bad input never becomes a 500.
"""
import re
from typing import Optional
from urllib.parse import unquote_to_bytes

from twisted.web.server import Request

# The page is ES modules and a stylesheet from this origin; no inline script or style, no eval.
# 'self' in connect-src also allows ws:/wss: to the same host and port (CSP Level 3).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"Content-Security-Policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"X-Frame-Options", b"DENY"),
    (b"Referrer-Policy", b"no-referrer"),
]

ALLOWED_METHODS = (b"GET", b"HEAD")
UPLOAD_METHODS = (b"PUT", b"POST")
UPLOAD_PATH = b"/files/upload/"   # where a body is taken: uploads (wampchat.web.files),
POST_PATHS = (b"/api/", b"/hooks/", b"/lp/")   # the HTTP API, incoming webhooks and WAMP over long-poll
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def target_problem(uri: bytes) -> Optional[str]:
    """Why a request target is malformed (None when it is fine): what every resource may then assume."""
    if not uri.startswith(b"/"):
        return "the request target must be a path starting with /"
    if _BAD_PERCENT.search(uri):
        return "malformed percent-encoding in the request target"
    decoded = unquote_to_bytes(uri)
    if _CONTROL.search(decoded):
        return "control characters (such as NUL) in the request target"
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "the request target is not UTF-8"
    return None


def is_websocket_upgrade(request: Request) -> bool:
    """Whether ``request`` asks to become a WebSocket: the connection's deadline and /ws both need to know."""
    upgrade = request.requestHeaders.getRawHeaders(b"upgrade") or []
    return any(b"websocket" in value.lower() for value in upgrade)


class SecureRequest(Request):
    """A request whose response, whatever renders it (files, 404s, /healthz, /metrics), has the security headers.

    Only GET and HEAD reach a resource (and PUT or POST an upload URL, POST
    the HTTP API, webhooks and long-poll; 405 otherwise), and only with a well-formed target (400 otherwise), so bad
    input never becomes a 500. A chunked body past the Site's cap is cut
    off with 413 as it arrives.
    """

    _body_bytes = 0

    def handleContentChunk(self, data):
        channel = self.channel
        if channel.body_refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > channel.site.max_body:
            channel.body_too_large()
            return
        super().handleContentChunk(data)

    def process(self):
        if self.channel.body_refused:
            return   # answered 413 and closing already
        for name, value in SECURITY_HEADERS:
            self.responseHeaders.setRawHeaders(name, [value])
        if self.method not in ALLOWED_METHODS and not self._takes_body():
            self.setHeader(b"allow", b", ".join(ALLOWED_METHODS))
            self._refuse(405, "only GET and HEAD are allowed here")
            return
        problem = target_problem(self.uri)
        if problem is not None:
            self._refuse(400, problem)
            return
        super().process()

    def _takes_body(self) -> bool:
        """An upload (PUT or POST under /files/upload/), or a POST to the HTTP API, a webhook or long-poll."""
        if self.method in UPLOAD_METHODS and self.path.startswith(UPLOAD_PATH):
            return True
        return self.method == b"POST" and self.path.startswith(POST_PATHS)

    def _refuse(self, code: int, reason: str) -> None:
        """Answer ``code`` with a one-line plain-text reason, without looking for a resource."""
        self.site = getattr(self.channel, "site", None)  # set by the Site on its channels
        body = f"{reason}\n".encode("utf-8")
        self.setResponseCode(code)
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()
