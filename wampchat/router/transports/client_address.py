"""
A client's address behind a reverse proxy: which peers are trusted proxies (``--trusted-proxy``), the
``X-Forwarded-For`` rule, and the transport's peer string (``tcp4:1.2.3.4:0``) everything downstream
(login limits, guest limits, per-address chat limits, guest bans, logs, the meta API) reads.

Only ``X-Forwarded-For`` is read (not ``X-Real-IP`` nor ``Forwarded``), and only from a trusted peer.
"""
import ipaddress
from typing import Iterable, Optional, Sequence

from twisted.internet.address import IPv4Address, IPv6Address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> Optional[IPAddress]:
    """An IP address from ``text`` (an IPv4-mapped IPv6 address as its IPv4 one), or None if it is not one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(cidrs: Iterable[str]) -> tuple:
    """The networks of ``--trusted-proxy`` values (``10.0.0.0/8``, ``::1``); raises ValueError naming a bad one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP network (e.g. 10.0.0.0/8, 127.0.0.1/32 or ::1/128)") from None
    return tuple(networks)


class TrustedProxies:
    """The networks whose connections may say who the client is (X-Forwarded-For, PROXY protocol)."""

    def __init__(self, cidrs: Iterable[str] = ()):
        self.networks = parse_networks(cidrs)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: Optional[str]) -> bool:
        """Is ``host`` (an address's text) in a trusted network?"""
        address = parse_ip(host) if host else None
        return address is not None and any(address in network for network in self.networks)

    def forwarded_client(self, peer_host: Optional[str], header_values: Sequence[str]) -> Optional[str]:
        """The client address per ``X-Forwarded-For`` (``header_values``: every such header, in order), or
        None when the peer's own address stands (an untrusted peer, no header, or a malformed entry)."""
        if not self.trusts(peer_host):
            return None
        return client_from_chain(forwarded_entries(header_values), self.trusts)


def forwarded_entries(header_values: Sequence[str]) -> list:
    """The comma-separated entries of every ``X-Forwarded-For`` header, leftmost first."""
    return [entry.strip() for value in header_values for entry in value.split(",")]


def _entry_address(entry: str) -> Optional[IPAddress]:
    """An entry's address: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]`` or ``[::1]:5678``; None if malformed."""
    if entry.startswith("["):
        inside, bracket, _ = entry[1:].partition("]")
        return parse_ip(inside) if bracket else None
    if entry.count(":") == 1:
        entry = entry.split(":", 1)[0]
    return parse_ip(entry)


def client_from_chain(entries: Sequence[str], trusted) -> Optional[str]:
    """The rightmost entry that is not a trusted proxy; the leftmost when all are; None (keep the peer)
    when the chain is empty or the entry the walk stops at is malformed (nothing left of it is believed)."""
    if not entries:
        return None
    address = None
    for entry in reversed(entries):
        address = _entry_address(entry)
        if address is None:
            return None
        if not trusted(str(address)):
            return str(address)
    return str(address)


def peer_string(host: str, port: int = 0) -> str:
    """Autobahn's peer text for a TCP client: ``tcp4:1.2.3.4:80`` or ``tcp6:::1:80``."""
    address = parse_ip(host)
    family = "tcp6" if isinstance(address, ipaddress.IPv6Address) else "tcp4"
    return f"{family}:{address}:{port}"


def twisted_address(host: str, port: int = 0):
    """A Twisted IPv4Address or IPv6Address for a client the proxy named."""
    address = parse_ip(host)
    if isinstance(address, ipaddress.IPv6Address):
        return IPv6Address("TCP", str(address), port)
    return IPv4Address("TCP", str(address), port)


def present_client(transport, address) -> None:
    """Make ``transport.getPeer()`` answer ``address``, the client a trusted proxy named, for this one
    connection: Autobahn's transport details, twisted.web's requests and logs then all see the client."""
    transport.getPeer = lambda: address
