"""
The guarded fetch of a page to preview (:class:`GuardedFetcher`).

Each hop's URL is checked (:func:`~wampchat.previews.guard.checked_url`), its
host resolved here and every address it resolves to checked; the connection
then goes to that checked address (:class:`PinnedEndpoints`), with the URL's
host in the Host header and, for https, in TLS's SNI and certificate check.
Redirects (at most 3) are followed by hand, each one checked again. Only an
HTML answer is read, at most ``max_bytes`` of it (then the connection is
dropped), and the whole fetch has ``timeout`` seconds. No compression is
asked for, so what is read is what the limit counts.
"""
import socket
from dataclasses import dataclass
from typing import Callable, List, Optional
from urllib.parse import urljoin

from twisted.internet import defer, threads
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.ssl import optionsForClientTLS
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from zope.interface import implementer
from twisted.web.iweb import IAgentEndpointFactory

from wampchat.previews.guard import FetchFailed, FetchPolicy, Refused, Target, TimedOut, address_refusal
from wampchat.previews.guard import checked_url, ip_literal

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
REQUEST_HEADERS = {b"user-agent": [b"wampchat-link-preview/1 (+https://github.com/wampchat)"],
                   b"accept": [b"text/html, application/xhtml+xml;q=0.9"], b"accept-encoding": [b"identity"]}


@dataclass(frozen=True)
class Page:
    """An HTML page as fetched: where it was found at last, its charset (if the answer named one) and up to
    ``max_bytes`` of its body (``cut`` when there was more)."""

    url: str
    charset: Optional[str]
    body: bytes
    cut: bool


def resolve_host(reactor) -> Callable:
    """getaddrinfo on the reactor's thread pool: every address of ``host`` (Deferred of a list of strings)."""
    def resolve(host: str, port: int):
        def lookup():
            return sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
        return threads.deferToThreadPool(reactor, reactor.getThreadPool(), lookup)
    return resolve


@implementer(IAgentEndpointFactory)
class PinnedEndpoints:
    """Connect to the checked ``address`` whatever the URI's host says (no second DNS lookup to rebind)."""

    def __init__(self, reactor, address: str, timeout: float, tls_trust=None) -> None:
        self._reactor, self.address, self._timeout, self._tls_trust = reactor, address, timeout, tls_trust

    def endpointForURI(self, uri):
        tcp = TCP6ClientEndpoint if ":" in self.address else TCP4ClientEndpoint
        endpoint = tcp(self._reactor, self.address, uri.port, timeout=self._timeout)
        if uri.scheme == b"https":
            host = uri.host.decode("ascii").strip("[]")
            endpoint = wrapClientTLS(optionsForClientTLS(host, trustRoot=self._tls_trust), endpoint)
        return endpoint


class _CappedBody(Protocol):
    """Reads a body up to ``limit`` bytes, then drops the connection; ``done`` fires with (bytes, cut)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.parts: List[bytes] = []
        self.done: defer.Deferred = defer.Deferred(lambda _: self._stop())

    def _stop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        room = self.limit - self.size
        self.parts.append(data[:room])
        self.size += min(len(data), room)
        if len(data) >= room:
            self.done.callback((b"".join(self.parts), len(data) > room))
            self._stop()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback((b"".join(self.parts), False))
        else:
            self.done.errback(FetchFailed(f"the body was cut off: {reason.getErrorMessage()}"))


class _Drop(Protocol):
    """Takes an unwanted body by dropping the connection at once."""

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()


def _media_type(response) -> tuple:
    """(media type, charset or None) of an answer's Content-Type."""
    raw = (response.headers.getRawHeaders(b"content-type") or [b""])[0].decode("latin-1")
    media, *params = [part.strip() for part in raw.split(";")]
    charset = next((p.split("=", 1)[1].strip("\"' ") for p in params if p.lower().startswith("charset=")), None)
    return media.lower(), charset or None


def _timed_out(result, timeout: float):
    """What a fetch cancelled at its timeout fails with, whatever the step under way made of the cancel."""
    raise TimedOut(f"no page within {timeout:g} seconds")


class GuardedFetcher:
    """Fetches pages for previews under a :class:`FetchPolicy`; ``resolve(host, port)`` gives a host's
    addresses (getaddrinfo by default; tests give names of their own)."""

    def __init__(self, reactor, policy: FetchPolicy = FetchPolicy(), resolve: Optional[Callable] = None,
                 tls_trust=None) -> None:
        self._reactor = reactor
        self.policy = policy
        self.resolve = resolve or resolve_host(reactor)
        self.tls_trust = tls_trust   # None: the system's CAs (tests give their own)

    def fetch(self, url: str) -> defer.Deferred:
        """Deferred of the :class:`Page` at ``url``; fails with FetchFailed (Refused by the guard, TimedOut past
        the policy's timeout, when whatever was under way is cancelled)."""
        d = defer.Deferred.fromCoroutine(self._fetch(url))
        return d.addTimeout(self.policy.timeout, self._reactor, onTimeoutCancel=_timed_out)

    async def _fetch(self, url: str) -> Page:
        target = checked_url(url, self.policy)
        for _ in range(self.policy.max_redirects + 1):
            address = await self._checked_address(target)
            response = await self._request(target, address)
            if response.code not in REDIRECTS:
                return await self._page(target, response)
            location = (response.headers.getRawHeaders(b"location") or [None])[0]
            response.deliverBody(_Drop())
            if location is None:
                raise FetchFailed(f"a redirect ({response.code}) without a Location")
            target = checked_url(urljoin(target.url, location.decode("latin-1")), self.policy)
        raise FetchFailed(f"more than {self.policy.max_redirects} redirects")

    async def _checked_address(self, target: Target) -> str:
        """The address to connect to: every address of the host must pass the guard (one bad answer among
        good ones refuses the host, whichever a resolver would have picked)."""
        literal = ip_literal(target.host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await self.resolve(target.host, target.port)
            except OSError as e:
                raise FetchFailed(f"cannot resolve {target.host}: {e}") from None
        if not addresses:
            raise FetchFailed(f"{target.host} has no address")
        for address in addresses:
            refusal = address_refusal(address, self.policy)
            if refusal is not None:
                raise Refused(f"{target.host}: {refusal}")
        return addresses[0]

    def _request(self, target: Target, address: str) -> defer.Deferred:
        pool = HTTPConnectionPool(self._reactor, persistent=False)
        endpoints = PinnedEndpoints(self._reactor, address, self.policy.timeout, self.tls_trust)
        agent = Agent.usingEndpointFactory(self._reactor, endpoints, pool=pool)
        return agent.request(b"GET", target.url.encode("ascii"), Headers(REQUEST_HEADERS))

    async def _page(self, target: Target, response) -> Page:
        if response.code != 200:
            response.deliverBody(_Drop())
            raise FetchFailed(f"{target.url} answered {response.code}")
        media, charset = _media_type(response)
        if media not in HTML_TYPES:
            response.deliverBody(_Drop())
            raise FetchFailed(f"{target.url} is {media or 'of no type'}, not HTML")
        body = _CappedBody(self.policy.max_bytes)
        response.deliverBody(body)
        data, cut = await body.done
        return Page(target.url, charset, data, cut)
