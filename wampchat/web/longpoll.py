"""
``/lp``, WAMP over HTTP long-poll (the transport Crossbar serves and AutobahnJS speaks), mapped onto the
router's long-poll transports (wampchat/router/transports/longpoll.py):

- ``POST /lp/open`` ``{"protocols": ["wamp.2.json"]}`` -> 200 ``{"transport": <id>, "protocol": ...}``
- ``POST /lp/<id>/send`` with one WAMP message (JSON) -> 204
- ``POST /lp/<id>/receive`` -> 200 with the next message, held up to the poll timeout; 204 if none came
- ``POST /lp/<id>/close`` -> 204

A transport id is good only from the address that opened it (404 from any other, as for an id never
given); a body past the router's message size is refused with 413, and a request whose ``Origin`` is
not this page's with 403 (the page and /lp share one origin, so no CORS is offered).
"""
import json
from typing import Optional
from urllib.parse import urlsplit

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from wampchat.router.transports.longpoll import GONE, LongPollTransports, Refused

MAX_OPEN_BODY = 4096
ACTIONS = (b"send", b"receive", b"close")


def foreign_origin(request: Request) -> bool:
    """Whether the request comes from a page of another origin (its Origin's host:port is not ours)."""
    origin = request.getHeader(b"origin")
    if origin is None:
        return False   # not from a browser page (AutobahnJS in Node, curl)
    host = request.getHeader(b"host") or ""
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


class LongPollResource(Resource):
    """``/lp``: opens long-poll transports and answers their send, receive and close requests."""

    isLeaf = True
    log = Logger()

    def __init__(self, transports: LongPollTransports, trusted_proxies=None) -> None:
        super().__init__()
        self.transports = transports
        self._trusted = trusted_proxies

    def client_address(self, request: Request):
        """The client's address: behind a trusted proxy the one its X-Forwarded-For names (as for /ws)."""
        peer = request.getClientAddress()
        if self._trusted and self._trusted.trusts(peer.host):
            values = [v.decode("latin-1") for v in request.requestHeaders.getRawHeaders(b"x-forwarded-for", [])]
            client = self._trusted.forwarded_client(peer.host, values)
            if client is not None:
                kind = IPv6Address if ":" in client else IPv4Address
                return kind("TCP", client, 0)
        return peer

    def render_POST(self, request: Request):
        request.setHeader(b"cache-control", b"no-store")
        if foreign_origin(request):
            return _plain(request, 403, "requests from another origin are not allowed here")
        path = request.postpath or []
        if path == [b"open"]:
            return self._open(request)
        if len(path) == 2 and path[1] in ACTIONS:
            transport = self.transports.find(path[0].decode("utf-8", "replace"), self.client_address(request).host)
            if transport is not None:
                return getattr(self, "_" + path[1].decode("ascii"))(request, transport)
            return _plain(request, 404, "no such long-poll transport (closed, expired or never opened)")
        return _plain(request, 404, "not a long-poll URL: POST /lp/open, then /lp/<transport>/send|receive|close")

    def _open(self, request: Request) -> bytes:
        body = _body(request, MAX_OPEN_BODY)
        if body is None:
            return _plain(request, 413, "the open request's body is too large")
        try:
            protocols = json.loads(body or b"{}").get("protocols")
        except (ValueError, AttributeError):
            return _plain(request, 400, 'the body must be JSON: {"protocols": ["wamp.2.json"]}')
        try:
            transport = self.transports.open(self.client_address(request), protocols)
        except Refused as e:
            return _plain(request, e.code, str(e))
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"transport": transport.id, "protocol": transport.protocol}).encode("ascii")

    def _send(self, request: Request, transport) -> bytes:
        body = _body(request, self.transports.max_message_size)
        if body is None:
            return _plain(request, 413, f"a WAMP message may have at most {self.transports.max_message_size} bytes")
        transport.incoming(body)
        request.setResponseCode(204)
        return b""

    def _receive(self, request: Request, transport):
        answer = transport.receive()
        request.notifyFinish().addErrback(lambda _: answer.cancel())
        answer.addCallback(self._answer_receive, request)
        answer.addErrback(lambda failure: None)  # cancelled: the client went away
        return NOT_DONE_YET

    def _answer_receive(self, answer, request: Request) -> None:
        if request.finished or request.channel is None:
            return
        if answer is GONE:
            request.write(_plain(request, 404, "the long-poll transport is closed"))
        elif answer is None:
            request.setResponseCode(204)
        else:
            request.setHeader(b"content-type", b"application/json")
            request.setHeader(b"content-length", b"%d" % len(answer))
            request.write(answer)
        request.finish()

    def _close(self, request: Request, transport) -> bytes:
        transport.end()
        request.setResponseCode(204)
        return b""


def _body(request: Request, limit: int) -> Optional[bytes]:
    """The request body, or None when it is longer than ``limit`` bytes."""
    if request.content is None:
        return b""
    body = request.content.read(limit + 1)
    return None if len(body) > limit else body


def _plain(request: Request, code: int, text: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"{text}\n".encode("utf-8")
