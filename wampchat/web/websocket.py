"""``/ws``, the WAMP-over-WebSocket endpoint, answering any request that is not an upgrade itself."""
from autobahn.twisted.resource import WebSocketResource

from wampchat.web.requests import is_websocket_upgrade


class RouterWebSocketResource(WebSocketResource):
    """``/ws``: WebSocket upgrades go to Autobahn; any other request is answered here, 426 Upgrade Required.

    Autobahn would answer a plain GET with its own status page written past
    twisted.web (no security headers, and its version in ``Server``).
    """

    def render(self, request):
        if not is_websocket_upgrade(request):
            request.setResponseCode(426, b"Upgrade Required")
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"this is a WAMP-over-WebSocket endpoint (wamp.2.json, wamp.2.msgpack, wamp.2.cbor)\n"
        return super().render(request)
