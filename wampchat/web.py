"""The HTTP side: static web/ at /, WAMP-over-WebSocket at /ws, /healthz and /metrics."""
import json
import os

from autobahn.twisted.resource import WebSocketResource
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports import RouterWebSocketFactory


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
    """GET /metrics: the Prometheus text format."""

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
        return self._router.metrics.render().encode("utf-8")


def make_site(router, web_dir, max_message_size, outbound_buffer):
    """The one Site that serves the page, the WAMP endpoint, health and metrics."""
    root = File(web_dir) if web_dir and os.path.isdir(web_dir) else Resource()
    ws_factory = RouterWebSocketFactory(router, wamp_serializers(), max_message_size, outbound_buffer)
    root.putChild(b"ws", WebSocketResource(ws_factory))
    root.putChild(b"healthz", HealthResource(router))
    root.putChild(b"metrics", MetricsResource(router))
    site = Site(root)
    site.displayTracebacks = False
    return site
