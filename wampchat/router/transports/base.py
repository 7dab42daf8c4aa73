"""
What the WebSocket and RawSocket protocols share on top of Autobahn's: the outbound budget, the
router's per-turn gathered writes, and the protocol-violation path (a malformed or invalid WAMP
message ends the session with ABORT ``wamp.error.protocol_violation`` and a reason, not a bare close).
"""
from autobahn.wamp.exception import InvalidUriError, ProtocolError, SerializationError
from twisted.internet import tcp
import txaio

from wampchat.router.transports.outbound_budget import install_budget

PLAIN_TCP = tcp.Server  # the transports whose writes a router gathers per turn (router/write_coalescing.py)
# Autobahn's message constructors check some field types with assert (e.g. PUBLISH args
# that are not a list), so AssertionError means "invalid message" too.
UNPARSEABLE = (ProtocolError, InvalidUriError, SerializationError, ValueError, TypeError, KeyError,
               AssertionError)


class RouterTransportMixin:
    """Shared by both transports: the budget, gathered writes and the protocol-violation path."""

    log = txaio.make_logger()  # type: ignore[attr-defined]  # txaio sets make_logger at use_twisted(); Autobahn's protocols call log.trace(), which twisted's Logger lacks
    _budget = None
    _write_coalescer = None  # the router's WriteCoalescer (set by the factory)

    def _gather(self, frame):
        """Leave ``frame`` to the router's per-turn writes if this is a plain TCP connection; False if not."""
        transport = self.transport
        if type(transport) is PLAIN_TCP and self._write_coalescer is not None:
            self._write_coalescer.write(transport, frame)
            return True
        return False

    def _flush_coalesced_writes(self):
        """Send this connection's gathered frames now: another write or a close must come after them."""
        if self._write_coalescer is not None:
            self._write_coalescer.flush_transport(self.transport)

    def _start_budget(self):
        if self.factory.outbound_buffer and self.transport is not None:
            self._budget = install_budget(self.transport, self.factory.outbound_buffer)

    def _spend(self, nbytes):
        if self._budget is not None and self._budget.spend(nbytes):
            self._drop_slow_consumer()
            return False
        return True

    def _drop_slow_consumer(self):
        session = self._session
        self.log.warn("dropping session {sid}: outbound buffer limit of {limit} bytes exceeded "
                      "(the peer does not read)", sid=getattr(getattr(session, "info", None), "id", None),
                      limit=self._budget.limit)
        router = self.factory.router
        router.metrics.slow_consumers.value += 1
        self._budget = None
        self.transport.abortConnection()

    def _bad_message(self, error):
        session = self._session
        if session is not None and hasattr(session, "protocol_violation"):
            session.protocol_violation(f"invalid WAMP message: {error}")
        else:
            self._flush_coalesced_writes()
            self.transport.loseConnection()
