"""
The PROXY protocol (HAProxy's, v1 text and v2 binary) in front of the web and RawSocket listeners
(``--proxy-protocol``): every connection must start with the header; the client it names becomes the
connection's peer, and the bytes after it go to the listener's own protocol.

The header is read by a small protocol that then hands the TCP connection over to the protocol the
listener's factory builds for the client's address, so the per-address connection cap counts clients,
not the proxy, and the connection stays a plain TCP one (the router's gathered writes still apply).
"""
import ipaddress
import struct
from dataclasses import dataclass
from typing import Any, Optional

from twisted.internet import protocol
from twisted.logger import Logger

from wampchat.router.transports.client_address import TrustedProxies, present_client, twisted_address

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the spec's longest v1 line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16
V2_MAX_BODY = 2048  # addresses and TLVs; HAProxy sends far less
_V2_ADDRESSES = {0x11: ("!4s4sHH", 4), 0x21: ("!16s16sHH", 16)}  # TCP over IPv4, TCP over IPv6
HEADER_TIMEOUT = 5.0

log = Logger()


class ProxyHeaderError(ValueError):
    """Not a valid PROXY protocol header."""


@dataclass(frozen=True)
class ProxyHeader:
    """A parsed header: its length on the wire, and the client (host, port), or None for UNKNOWN / LOCAL
    (a proxy's own health check: the connection's peer stands)."""

    length: int
    source: Optional[tuple]


def parse_proxy_header(data: bytes) -> Optional[ProxyHeader]:
    """The header at the start of ``data``, or None if more bytes are needed; raises ProxyHeaderError."""
    if data[:len(V2_SIGNATURE)] == V2_SIGNATURE[:len(data)] and data[:1] == b"\r":
        return _parse_v2(data)
    if data[:len(V1_PREFIX)] == V1_PREFIX[:len(data)]:
        return _parse_v1(data)
    raise ProxyHeaderError("the connection does not start with a PROXY protocol header")


def _parse_v1(data: bytes) -> Optional[ProxyHeader]:
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError(f"a PROXY v1 line longer than {V1_MAX} bytes")
        return None
    try:
        fields = data[:end].decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise ProxyHeaderError("a PROXY v1 line that is not ASCII") from None
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return ProxyHeader(end + 2, None)
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("a PROXY v1 line that is not 'PROXY TCP4|TCP6 src dst sport dport'")
    family = ipaddress.IPv4Address if fields[1] == "TCP4" else ipaddress.IPv6Address
    try:
        source = family(fields[2])
        family(fields[3])
        ports = [_port(text) for text in fields[4:]]
    except ValueError:
        raise ProxyHeaderError("a PROXY v1 line with a bad address or port") from None
    return ProxyHeader(end + 2, (str(source), ports[0]))


def _port(text: str) -> int:
    if not text.isdigit() or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _parse_v2(data: bytes) -> Optional[ProxyHeader]:
    if len(data) < V2_FIXED:
        return None
    version_command, family, body_length = struct.unpack("!BBH", data[12:16])
    if version_command >> 4 != 2 or version_command & 0xF > 1:
        raise ProxyHeaderError("a PROXY v2 header of an unknown version or command")
    if body_length > V2_MAX_BODY:
        raise ProxyHeaderError(f"a PROXY v2 header longer than {V2_FIXED + V2_MAX_BODY} bytes")
    length = V2_FIXED + body_length
    if len(data) < length:
        return None
    if version_command & 0xF == 0 or family not in _V2_ADDRESSES:  # LOCAL, or not TCP over IP: keep the peer
        return ProxyHeader(length, None)
    layout, size = _V2_ADDRESSES[family]
    if body_length < struct.calcsize(layout):
        raise ProxyHeaderError("a PROXY v2 header too short for its addresses")
    source, _, source_port, _ = struct.unpack_from(layout, data, V2_FIXED)
    return ProxyHeader(length, (str(ipaddress.ip_address(source)), source_port))


class ProxyHeaderReceiver(protocol.Protocol):
    """Reads the PROXY header, then hands the connection to the listener's protocol for the client."""

    def __init__(self, factory: "ProxyProtocolFactory", addr):
        self.factory = factory
        self.addr = addr
        self.buffer = b""
        self._timeout = None

    def connectionMade(self):
        self._timeout = self.factory.clock.callLater(self.factory.timeout, self._refuse, "no PROXY header in time")

    def dataReceived(self, data: bytes):
        self.buffer += data
        try:
            header = parse_proxy_header(self.buffer)
        except ProxyHeaderError as e:
            return self._refuse(str(e))
        if header is not None:
            self._hand_over(header)
        return None

    def _hand_over(self, header: ProxyHeader):
        self._stop_clock()
        rest = self.buffer[header.length:]
        transport: Any = self.transport   # an ITransport: set by makeConnection, before any byte arrives
        self.buffer = b""
        client = twisted_address(*header.source) if header.source is not None else self.addr
        inner = self.factory.wrapped.buildProtocol(client)
        if inner is None:
            transport.loseConnection()
            return
        if header.source is not None:
            present_client(transport, client)
        if hasattr(transport, "wrappedProtocol"):
            transport.wrappedProtocol = inner  # a TLS or other wrapping transport
        else:
            transport.protocol = inner
        inner.makeConnection(transport)
        if rest:
            inner.dataReceived(rest)

    def _refuse(self, why: str):
        self._stop_clock()
        log.info("closing a connection from {host}: {why}", host=self.addr.host, why=why)
        if self.transport is not None:
            self.transport.abortConnection()

    def _stop_clock(self):
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def connectionLost(self, reason=None):
        self._stop_clock()


class _Refused(protocol.Protocol):
    def connectionMade(self):
        self.transport.abortConnection()


class ProxyProtocolFactory(protocol.Factory):
    """Wraps a listener's factory: every connection must start with a PROXY header (v1 or v2), and when
    ``trusted`` networks are given only connections from them are accepted at all."""

    def __init__(self, wrapped, clock, trusted: TrustedProxies = TrustedProxies(), timeout: float = HEADER_TIMEOUT):
        self.wrapped = wrapped
        self.clock = clock
        self.trusted = trusted
        self.timeout = timeout

    def doStart(self):
        self.wrapped.doStart()

    def doStop(self):
        self.wrapped.doStop()

    def buildProtocol(self, addr):
        if self.trusted and not self.trusted.trusts(getattr(addr, "host", None)):
            log.info("closing a connection from {host}: not a --trusted-proxy, and --proxy-protocol is on",
                     host=getattr(addr, "host", addr))
            return _Refused()
        return ProxyHeaderReceiver(self, addr)
