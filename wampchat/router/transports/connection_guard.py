"""
Connection admission: a cap on open connections per source address and a deadline for the handshake.

One :class:`ConnectionGuard` serves every listener of a process (the web Site with its ``/ws`` and every
RawSocket port), so that one address cannot hold the router's sockets, and a connection that never
finishes its handshake and HELLO cannot hold one for long.
"""
from twisted.internet import protocol


class ConnectionGuard:
    """Caps open connections per source address and enforces the handshake deadline.

    One guard serves every listener of a process (the web Site with its
    ``/ws`` and every RawSocket port), so the cap is per address across all
    of them. A listener asks :meth:`admit` when a TCP connection arrives; an
    address already at ``max_per_address`` gets ``None`` and the listener
    answers with its refusal. Every admitted connection must finish its
    handshake (HTTP request headers, or WebSocket upgrade / RawSocket
    handshake and the first WAMP message, HELLO) within ``handshake_timeout``
    seconds of arriving, or it is closed. ``clock`` is the reactor (a Clock in tests).
    """

    def __init__(self, clock, metrics, max_per_address=100, handshake_timeout=10.0, trusted=None):
        """``trusted`` (a TrustedProxies): proxies' addresses, not capped when a connection arrives (many
        clients share them); a WebSocket through one is counted under its client once X-Forwarded-For is read."""
        self.clock = clock
        self.trusted = trusted
        self.max_per_address = max_per_address
        self.handshake_timeout = handshake_timeout
        self.open = 0
        self._per_address = {}
        self._by_transport = {}
        self.refusals = metrics.counter("wampchat_connections_refused_total",
                                        "connections refused because their address had too many open")
        self.timeouts = metrics.counter("wampchat_handshake_timeouts_total",
                                        "connections closed for not finishing the handshake and HELLO in time")
        metrics.gauge("wampchat_connections_open", "TCP connections open on the web and RawSocket ports",
                      lambda: self.open)

    def admit(self, addr):
        """An :class:`Admission` for a new connection from ``addr``, or None when its address is at the cap.

        Addresses without a host (UNIX sockets, in-memory tests) are not capped.
        """
        host = getattr(addr, "host", None)
        if host is not None and self.trusted and self.trusted.trusts(host):
            host = None
        if not self._count(host):
            return None
        self.open += 1
        return Admission(self, host)

    def _count(self, host):
        """Count one more connection from ``host`` (None: not capped); False when it is at the cap."""
        if host is not None and self.max_per_address:
            if self._per_address.get(host, 0) >= self.max_per_address:
                self.refusals.value += 1
                return False
            self._per_address[host] = self._per_address.get(host, 0) + 1
        return True

    def rehome(self, admission, host):
        """Count ``admission`` under ``host``, the client a trusted proxy named, instead; False (and no
        change) when that client is already at the cap."""
        if not self._count(host):
            return False
        self._uncount(admission.host)
        admission.host = host
        return True

    def claim(self, transport):
        """The admission of the connection under ``transport``, for the protocol taking it over (the
        WebSocket protocol after twisted.web's upgrade), or None when no listener of this guard admitted it."""
        return self._by_transport.get(transport)

    def _forget(self, admission):
        self.open -= 1
        self._uncount(admission.host)
        if admission.transport is not None:
            self._by_transport.pop(admission.transport, None)

    def _uncount(self, host):
        if host is not None and host in self._per_address:
            left = self._per_address[host] - 1
            if left:
                self._per_address[host] = left
            else:
                del self._per_address[host]


class Admission:
    """One admitted connection: its place in the per-address count and its handshake deadline.

    Whichever protocol currently speaks on the connection owns it: ``start``
    (the first protocol) or ``hand_over`` (one that takes the transport over)
    says what to do when the deadline passes; ``handshake_done`` stops the
    clock; ``release`` (idempotent) gives the place back when the connection ends.
    """

    def __init__(self, guard, host):
        self.guard = guard
        self.host = host
        self.transport = None
        self._deadline = None
        self._expire = None
        self._released = False

    def start(self, transport, expire):
        """The connection is up under ``transport``; call ``expire()`` if the handshake is not done in time."""
        self.transport = transport
        self.guard._by_transport[transport] = self
        self._expire = expire
        if self.guard.handshake_timeout:
            self._deadline = self.guard.clock.callLater(self.guard.handshake_timeout, self._expired)

    def hand_over(self, expire):
        """A new protocol owns the connection; the deadline keeps counting from the connection's arrival.

        When the old owner had already finished its handshake (an HTTP request
        on a kept-alive connection before an upgrade), the new one gets a
        fresh deadline.
        """
        self._expire = expire
        if self._deadline is None and self.guard.handshake_timeout and not self._released:
            self._deadline = self.guard.clock.callLater(self.guard.handshake_timeout, self._expired)

    def handshake_done(self):
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def release(self):
        if self._released:
            return
        self._released = True
        self.handshake_done()
        self.guard._forget(self)

    def _expired(self):
        self._deadline = None
        self.guard.timeouts.value += 1
        self._expire()


class RefusedConnection(protocol.Protocol):
    """Answers a connection over the per-address cap with ``answer`` (HTTP 429, or RawSocket error 4) and closes."""

    def __init__(self, answer):
        self.answer = answer

    def connectionMade(self):
        self.transport.write(self.answer)
        self.transport.loseConnection()

    def dataReceived(self, data):
        """Whatever the client sent before it read the refusal is ignored."""
