"""
Which URLs and addresses a link preview may fetch: the guard against server-side request forgery.

A preview is fetched by the node, from inside its network, for anyone who can
send a message; so only public (globally routable, unicast) addresses are
fetched, checked after the name is resolved and again at every redirect, and
the connection goes to the address that was checked (a second DNS answer
cannot point it elsewhere). IPv6 forms that carry an IPv4 address
(IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged by that address too.
"""
import ipaddress
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote, urlsplit

HTTP_PORTS = frozenset({80, 443})   # only the default ports: no probing of other services on public hosts
MAX_URL = 2048
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
QUERY_SAFE = PATH_SAFE + "?"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchFailed(Exception):
    """A page that gives no preview (unreachable, too slow, not HTML, an error status); the message says why."""


class Refused(FetchFailed):
    """A URL or address the guard does not fetch."""


class TimedOut(FetchFailed):
    """The fetch took longer than its policy's timeout (and was stopped, its connection closed)."""


@dataclass(frozen=True)
class FetchPolicy:
    """What one fetch may do. The defaults are the only ones a node uses; ``allow_networks`` and ``ports=None``
    exist for tests (a local server on 127.0.0.1 and a free port) and are no option of ``twistd wampchat``."""

    allow_networks: tuple = ()                 # fetched although not public (tests: 127.0.0.1/32)
    ports: Optional[frozenset] = HTTP_PORTS    # None: any port (tests)
    timeout: float = 5.0                       # seconds for the whole fetch: DNS, every hop, the body
    max_bytes: int = 1024 * 1024               # bytes of the body read; the rest is never received
    max_redirects: int = 3


@dataclass(frozen=True)
class Target:
    """A checked URL: ``url`` (ASCII, as sent), its scheme, host (IDNA) and port."""

    url: str
    scheme: str
    host: str
    port: int


def _embedded_ipv4(ip: Address) -> list:
    """The IPv4 addresses an IPv6 address stands for, which decide where it leads."""
    if ip.version == 4:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour]
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in found if address is not None]


def _public(ip: Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback
                                 or ip.is_link_local or ip.is_private)


def address_refusal(address: str, policy: FetchPolicy) -> Optional[str]:
    """Why ``address`` may not be fetched, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if any(ip in network for network in policy.allow_networks):
        return None
    if not all(_public(candidate) for candidate in [ip, *_embedded_ipv4(ip)]):
        return f"{address} is not a public address (loopback, private, link-local, multicast or reserved)"
    return None


def ip_literal(host: str) -> Optional[Address]:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def checked_url(text: str, policy: FetchPolicy) -> Target:
    """``text`` as a Target, or Refused: http(s) only, a host, no user or password, an allowed port."""
    if len(text) > MAX_URL:
        raise Refused(f"a URL longer than {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise Refused(f"not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused(f"only http and https are fetched, not {scheme or 'a relative URL'}")
    if parts.username is not None or parts.password is not None:
        raise Refused("a URL with a user name or password")
    host = _ascii_host(parts.hostname or "")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if policy.ports is not None and port not in policy.ports:
        raise Refused(f"port {port}: only {', '.join(map(str, sorted(policy.ports)))} are fetched")
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if parts.port is None else f"{shown_host}:{port}"
    path = quote(parts.path or "/", safe=PATH_SAFE)
    query = f"?{quote(parts.query, safe=QUERY_SAFE)}" if parts.query else ""
    return Target(f"{scheme}://{netloc}{path}{query}", scheme, host, port)


def _ascii_host(host: str) -> str:
    """The host as sent in DNS and the Host header (IDNA for a name, unchanged for an IP literal)."""
    if not host:
        raise Refused("a URL without a host")
    if ip_literal(host) is not None:
        return host
    try:
        return host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(f"not a valid host name: {host!r}") from None
