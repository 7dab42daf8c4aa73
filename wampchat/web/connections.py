"""
Every connection to the web port is admitted by the process's ConnectionGuard: a cap per source address, and
a deadline for the request headers (or for the WebSocket upgrade and WAMP HELLO). A connection refused or cut
here is answered with a complete plain-text response written straight to the transport, as no Request serves it.
"""
from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from wampchat.router.transports.connection_guard import RefusedConnection
from wampchat.web.requests import SecureRequest, is_websocket_upgrade


def _plain_response(status: str, text: str) -> bytes:
    """A complete HTTP response written straight to the transport, for connections no Request serves."""
    body = text.encode("utf-8")
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
            f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii") + body


TOO_MANY_CONNECTIONS = _plain_response("429 Too Many Requests", "too many connections from your address\n")
REQUEST_TIMEOUT = _plain_response("408 Request Timeout", "the request did not come in time\n")
URI_TOO_LONG = _plain_response("414 URI Too Long", "the request line is too long\n")
HEADER_TOO_LONG = _plain_response("431 Request Header Fields Too Large", "a request header is too long\n")
BODY_TOO_LARGE = _plain_response("413 Content Too Large", "the request body is too large\n")


class GuardedHTTPChannel(HTTPChannel):
    """An HTTP connection admitted by the ConnectionGuard: it must send its request headers in time.

    A WebSocket upgrade keeps the deadline running: the WebSocket protocol
    takes the admission over and stops the clock at the first WAMP message.
    """

    admission = None  # set by GuardedSite.buildProtocol
    body_refused = False
    _first_bytes = True

    def dataReceived(self, data):
        """A connection that opens with a whole WebSocket upgrade for /ws is handed over without a Request."""
        if self._first_bytes and data:
            self._first_bytes = False
            upgrade = self.site.upgrade
            if upgrade is not None and upgrade(self, data):
                return
        super().dataReceived(data)

    def connectionMade(self):
        super().connectionMade()
        if self.admission is not None:
            self.admission.start(self.transport, self._request_timed_out)

    def allHeadersReceived(self):
        if self.length is not None and self.length > self.site.max_body:
            self.body_too_large()   # refused before a byte of the body is read (or a 100 Continue sent)
            return
        super().allHeadersReceived()
        if self.admission is not None and not is_websocket_upgrade(self.requests[-1]):
            self.admission.handshake_done()

    def body_too_large(self):
        """Answer 413 and close: neither a declared length nor a chunked body past the Site's cap is read."""
        self.transport.write(BODY_TOO_LARGE)
        self.transport.loseConnection()
        self.body_refused = True

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


class GuardedSite(Site):
    """A Site whose connections pass the ConnectionGuard, and whose responses carry the security headers.

    A connection over the per-address cap is answered ``429 Too Many
    Requests`` and closed before any request is read.
    """

    protocol = GuardedHTTPChannel  # type: ignore[assignment]  # a plain HTTPChannel, as twisted.web's Site builds
    requestFactory = SecureRequest
    upgrade = None  # upgrade(channel, first bytes): True when it took the connection (web/websocket.py)

    def __init__(self, resource, guard, reactor=None, max_body=10 * 1024 * 1024):
        super().__init__(resource, reactor=reactor)
        self.guard = guard
        self.max_body = max_body   # bytes any request body may have (the largest upload)

    def buildProtocol(self, addr):
        admission = self.guard.admit(addr)
        if admission is None:
            return RefusedConnection(TOO_MANY_CONNECTIONS)
        channel = super().buildProtocol(addr)
        channel.admission = admission
        return channel
