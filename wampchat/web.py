"""
The HTTP side: static web/ at /, WAMP-over-WebSocket at /ws, /healthz and /metrics.

Every HTTP response carries the security headers in ``SECURITY_HEADERS``;
every connection is admitted by the process's ConnectionGuard (a cap per
source address, and a deadline for the request headers, or for the
WebSocket upgrade and WAMP HELLO).
"""
import json
import os

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.static import File

from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports import ConnectionGuard, RefusedConnection, RouterWebSocketFactory

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


class SecureRequest(Request):
    """A request whose response, whatever renders it (files, 404s, /healthz, /metrics), has the security headers."""

    def process(self):
        for name, value in SECURITY_HEADERS:
            self.responseHeaders.setRawHeaders(name, [value])
        super().process()


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

log = Logger()


class HealthResource(Resource):
    """GET /healthz: JSON with status, session count and each component's state."""

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        body = {"status": "ok", "sessions": self._router.session_count()}
        for name, check in self._router.health.items():
            body[name] = check()
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(body).encode("utf-8")


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
        root = File(web_dir)
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
