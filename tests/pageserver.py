"""A local web server for link-preview tests: pages, redirects, an endless page and one that never answers,
recording every request it gets (path and Host header) so a test can prove no request was made."""
from twisted.internet import defer, reactor
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

CHUNK = b"<p>" + b"x" * 65532 + b"\n"


class _Endless:
    """Writes HTML to a request until the client drops the connection (or 64 MiB, a test's safety net)."""

    def __init__(self, request, pages) -> None:
        self._request, self._pages = request, pages
        self._stopped = False
        request.notifyFinish().addBoth(self._ended)
        request.registerProducer(self, False)

    def _ended(self, _):
        self._stopped = True
        self._pages.dropped.callback(self._pages.sent) if not self._pages.dropped.called else None

    def resumeProducing(self) -> None:
        if self._stopped:
            return
        if self._pages.sent >= 64 * 1024 * 1024:
            self._request.unregisterProducer()
            self._request.finish()
            return
        self._pages.sent += len(CHUNK)
        self._request.write(CHUNK)

    def stopProducing(self) -> None:
        self._stopped = True


class Pages(Resource):
    """``routes``: path -> (status, headers, body); a body ``"endless"`` streams forever, ``"silent"`` never
    answers. ``dropped`` fires (with the bytes sent) when a streaming or silent answer's client goes away."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict = {}
        self.requests: list = []
        self.sent = 0
        self.dropped = defer.Deferred()

    def html(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        self.routes[path] = (200, {"content-type": content_type}, body.encode())

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = (status, {"location": location}, b"")

    def render_GET(self, request):
        path = request.uri.decode()
        self.requests.append((path, request.getHeader("host")))
        status, headers, body = self.routes.get(path, (404, {"content-type": "text/plain"}, b"no such page"))
        request.setResponseCode(status)
        for name, value in headers.items():
            request.setHeader(name, value)
        if body == b"endless":
            request.setHeader("content-type", "text/html")
            request.write(b"<html><head><meta property='og:title' content='Endless'></head><body>")
            _Endless(request, self)
            return NOT_DONE_YET
        if body == b"silent":
            request.notifyFinish().addBoth(lambda _: self.dropped.callback(0))
            return NOT_DONE_YET
        return body


class PageServer:
    """``Pages`` listening on ``interface`` at a free port; ``url(path)`` is its address."""

    def __init__(self, interface: str = "127.0.0.1") -> None:
        self.pages = Pages()
        self.site = Site(self.pages)
        self.site.noisy = False
        self.port = reactor.listenTCP(0, self.site, interface=interface)
        self.interface = interface

    @property
    def number(self) -> int:
        return self.port.getHost().port

    def url(self, path: str = "/", host: str = None) -> str:
        return f"http://{host or self.interface}:{self.number}{path}"

    def stop(self):
        return defer.maybeDeferred(self.port.stopListening)
