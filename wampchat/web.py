"""The HTTP side: static web/ at /, WAMP-over-WebSocket at /ws, /healthz and /metrics."""
import json
import os

from autobahn.twisted.resource import WebSocketResource
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports import RouterWebSocketFactory

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


def make_site(router, web_dir, max_message_size, outbound_buffer):
    """The one Site that serves the page, the WAMP endpoint, health and metrics."""
    if web_dir and os.path.isdir(web_dir):
        root = File(web_dir)
    else:
        log.warn("no page to serve: {web_dir} is not a directory, so / answers 404 (see --web)", web_dir=web_dir)
        root = Resource()
    ws_factory = RouterWebSocketFactory(router, wamp_serializers(), max_message_size, outbound_buffer)
    root.putChild(b"ws", WebSocketResource(ws_factory))
    root.putChild(b"healthz", HealthResource(router))
    root.putChild(b"metrics", MetricsResource(router))
    site = Site(root)
    site.displayTracebacks = False
    return site
