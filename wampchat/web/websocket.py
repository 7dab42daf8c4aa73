"""
``/ws``, the WAMP-over-WebSocket endpoint: an upgrade request that arrives whole as a connection's first
bytes goes to the WebSocket protocol at once (:func:`take_upgrade`); anything else is parsed by twisted.web,
whose /ws resource hands upgrades to Autobahn too and answers any other request itself.
"""
import re
from typing import Optional

from autobahn.twisted.resource import WebSocketResource
from twisted.protocols.policies import ProtocolWrapper

from wampchat.web.requests import is_websocket_upgrade, target_problem

# A join storm (every client of a restarted node coming back) is mostly upgrade requests. Through
# twisted.web each is parsed into a Request, walked down the resource tree, then written out again as
# bytes for Autobahn to parse a second time: about a quarter of a join's CPU. A complete, plain upgrade
# request is handed to Autobahn as it came, which makes every check twisted.web would (the request
# line, the target, the Upgrade header) or leaves the request to twisted.web.
_WS_TARGET = (b"GET /ws ", b"GET /ws?")
_MAX_DIRECT_HEAD = 8192   # larger heads (long cookies) take the ordinary way, with its 431 for long lines
_UPGRADE_WEBSOCKET = re.compile(rb"\r\nupgrade:[^\r\n]*websocket", re.IGNORECASE)
_BODY_HEADER = re.compile(rb"\r\n(?:content-length|transfer-encoding):", re.IGNORECASE)


def direct_upgrade_head(data: bytes) -> Optional[bytes]:
    """The request head (request line and headers) when ``data`` begins with a whole, well-formed WebSocket
    upgrade request for /ws with no body, else None (twisted.web takes it)."""
    if not data.startswith(_WS_TARGET):
        return None
    end = data.find(b"\r\n\r\n", 0, _MAX_DIRECT_HEAD)
    if end < 0:
        return None
    head = data[:end + 2]
    line = head[:head.find(b"\r\n")]
    parts = line.split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or target_problem(parts[1]) is not None:
        return None
    if not _UPGRADE_WEBSOCKET.search(head) or _BODY_HEADER.search(head):
        return None
    return head


def take_upgrade(channel, factory, data: bytes) -> bool:
    """Give the connection under ``channel`` (a fresh HTTPChannel whose first bytes are ``data``) to a
    WebSocket protocol of ``factory`` when ``data`` is a whole upgrade request for /ws; False if not."""
    if direct_upgrade_head(data) is None:
        return False
    transport = channel.transport
    protocol = factory.buildProtocol(transport.getPeer())
    if protocol is None:
        return False
    channel.setTimeout(None)
    channel._networkProducer.unregisterProducer()
    channel.transport = None
    if isinstance(transport, ProtocolWrapper):  # TLS: the wrapper delivers the bytes
        transport.wrappedProtocol = protocol
    elif isinstance(transport.protocol, ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    protocol.makeConnection(transport)
    protocol.dataReceived(data)
    return True


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
