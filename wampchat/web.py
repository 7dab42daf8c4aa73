"""
The HTTP side: the page in web/ at /, WAMP-over-WebSocket at /ws, /healthz and /metrics.

Every HTTP response carries the security headers in ``SECURITY_HEADERS``;
every connection is admitted by the process's ConnectionGuard (a cap per
source address, and a deadline for the request headers, or for the
WebSocket upgrade and WAMP HELLO). Of the web directory only the page's own
files are served (:class:`PageFiles`); a request that is not GET or HEAD,
or whose target is malformed, gets a 4xx before any resource sees it.
"""
import json
import os
import posixpath
import re
from html.parser import HTMLParser
from typing import Optional
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.static import File

from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports.connection_guard import ConnectionGuard, RefusedConnection
from wampchat.router.transports.websocket import RouterWebSocketFactory

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



def _plain_response(status, text):
    """A complete HTTP response written straight to the transport, for connections no Request serves."""
    body = text.encode("utf-8")
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii") + body


TOO_MANY_CONNECTIONS = _plain_response("429 Too Many Requests", "too many connections from your address\n")
REQUEST_TIMEOUT = _plain_response("408 Request Timeout", "the request did not come in time\n")
URI_TOO_LONG = _plain_response("414 URI Too Long", "the request line is too long\n")
HEADER_TOO_LONG = _plain_response("431 Request Header Fields Too Large", "a request header is too long\n")


ALLOWED_METHODS = (b"GET", b"HEAD")
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


class SecureRequest(Request):
    """A request whose response, whatever renders it (files, 404s, /healthz, /metrics), has the security headers.

    Only GET and HEAD reach a resource (405 otherwise), and only with a
    well-formed target (400 otherwise), so bad input never becomes a 500.
    """

    def process(self):
        for name, value in SECURITY_HEADERS:
            self.responseHeaders.setRawHeaders(name, [value])
        if self.method not in ALLOWED_METHODS:
            self.setHeader(b"allow", b", ".join(ALLOWED_METHODS))
            self._refuse(405, "only GET and HEAD are allowed here")
            return
        problem = target_problem(self.uri)
        if problem is not None:
            self._refuse(400, problem)
            return
        super().process()

    def _refuse(self, code: int, reason: str) -> None:
        """Answer ``code`` with a one-line plain-text reason, without looking for a resource."""
        self.site = self.channel.site
        body = f"{reason}\n".encode("utf-8")
        self.setResponseCode(code)
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class GuardedHTTPChannel(HTTPChannel):
    """An HTTP connection admitted by the ConnectionGuard: it must send its request headers in time.

    A WebSocket upgrade keeps the deadline running: the WebSocket protocol
    takes the admission over and stops the clock at the first WAMP message.
    """

    admission = None  # set by GuardedSite.buildProtocol

    def connectionMade(self):
        super().connectionMade()
        if self.admission is not None:
            self.admission.start(self.transport, self._request_timed_out)

    def allHeadersReceived(self):
        super().allHeadersReceived()
        if self.admission is not None and not _is_websocket_upgrade(self.requests[-1]):
            self.admission.handshake_done()

    def _request_timed_out(self):
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.loseConnection()

    def lineLengthExceeded(self, line):
        """A request line or header over MAX_LENGTH: say so (414 or 431) before closing, not just close."""
        self.transport.write(HEADER_TOO_LONG if self.requests else URI_TOO_LONG)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if self.admission is not None:
            self.admission.release()
        super().connectionLost(reason)


def _is_websocket_upgrade(request):
    upgrade = request.requestHeaders.getRawHeaders(b"upgrade") or []
    return any(b"websocket" in value.lower() for value in upgrade)


class GuardedSite(Site):
    """A Site whose connections pass the ConnectionGuard, and whose responses carry the security headers.

    A connection over the per-address cap is answered ``429 Too Many
    Requests`` and closed before any request is read.
    """

    protocol = GuardedHTTPChannel
    requestFactory = SecureRequest

    def __init__(self, resource, guard, reactor=None):
        super().__init__(resource, reactor=reactor)
        self.guard = guard

    def buildProtocol(self, addr):
        admission = self.guard.admit(addr)
        if admission is None:
            return RefusedConnection(TOO_MANY_CONNECTIONS)
        channel = super().buildProtocol(addr)
        channel.admission = admission
        return channel


class RouterWebSocketResource(WebSocketResource):
    """``/ws``: WebSocket upgrades go to Autobahn; any other request is answered here, 426 Upgrade Required.

    Autobahn would answer a plain GET with its own status page written past
    twisted.web (no security headers, and its version in ``Server``).
    """

    def render(self, request):
        if not _is_websocket_upgrade(request):
            request.setResponseCode(426, b"Upgrade Required")
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"this is a WAMP-over-WebSocket endpoint (wamp.2.json, wamp.2.msgpack, wamp.2.cbor)\n"
        return super().render(request)

# -- the page -------------------------------------------------------------------------------------------

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
        found = set()
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


log = Logger()


# What /healthz may show of a component: states and counts, never where things are (paths, hosts, users)
# nor error texts (they name both); those go to the log.
PUBLIC_HEALTH_FIELDS = ("state", "engine", "outbox", "exchange", "node", "heartbeat_age_ms", "self")
# A component reporting a state outside these makes the node "degraded" (HTTP 503).
HEALTHY_STATES = {"ok", "connected", "ready"}


def public_health(value):
    """``value`` (a component's health) with only PUBLIC_HEALTH_FIELDS kept, in dicts and lists of dicts."""
    if isinstance(value, dict):
        return {key: public_health(value[key]) for key in PUBLIC_HEALTH_FIELDS if key in value}
    if isinstance(value, list):
        return [public_health(item) for item in value]
    return value


def is_healthy(component) -> bool:
    """False for a component (database, amqp link, chat service) whose state is not a healthy one."""
    return not isinstance(component, dict) or "state" not in component or component["state"] in HEALTHY_STATES


class HealthResource(Resource):
    """GET /healthz: JSON with status, session count and each component's state, for load balancers.

    ``status`` is ``ok`` (HTTP 200) or, when a component is not in a healthy
    state (database unavailable, AMQP link not connected, chat service not
    ready), ``degraded`` (HTTP 503), so a plain status-code check stops
    sending clients to the node.
    """

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        components = {name: self._check(name, check) for name, check in self._router.health.items()}
        healthy = all(is_healthy(c) for c in components.values())
        body = {"status": "ok" if healthy else "degraded", "sessions": self._router.session_count(), **components}
        request.setResponseCode(200 if healthy else 503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(body).encode("utf-8")

    def _check(self, name, check):
        try:
            return public_health(check())
        except Exception:
            log.failure("the health check of {name} failed", name=name)
            return {"state": "error"}


class MetricsResource(Resource):
    """GET /metrics: the router's prometheus_client registry, in the format the scraper asks for.

    Without an Accept header (curl, a browser) that is the Prometheus text
    format 0.0.4; a Prometheus server that asks for OpenMetrics gets it.
    """

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        accept = request.getHeader(b"accept")
        body, content_type = self._router.metrics.exposition(accept.decode("latin-1") if accept else None)
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return body


def make_site(router, web_dir, max_message_size, outbound_buffer, guard=None):
    """The one Site that serves the page, the WAMP endpoint, health and metrics.

    ``guard`` is the process's ConnectionGuard (shared with the RawSocket
    listeners); by default one with the default limits on the router's reactor.
    """
    guard = guard if guard is not None else ConnectionGuard(router.reactor, router.metrics)
    if web_dir and os.path.isdir(web_dir):
        root = PageResource(web_dir)
    else:
        log.warn("no page to serve: {web_dir} is not a directory, so / answers 404 (see --web)", web_dir=web_dir)
        root = Resource()
    ws_factory = RouterWebSocketFactory(router, wamp_serializers(), max_message_size, outbound_buffer, guard=guard)
    root.putChild(b"ws", RouterWebSocketResource(ws_factory))
    root.putChild(b"healthz", HealthResource(router))
    root.putChild(b"metrics", MetricsResource(router))
    site = GuardedSite(root, guard, reactor=router.reactor)
    site.displayTracebacks = False
    return site
