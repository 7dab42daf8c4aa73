"""
A router's socket writes, gathered per reactor turn and sent with one ``send()`` per socket.

Twisted's ``transport.write`` buffers the bytes and registers the socket
for writing (an ``epoll_ctl``); in the next turn the reactor finds it
writable, sends, and unregisters it (another ``epoll_ctl``). A router
writes to many sockets in every turn (one publication, N subscribers), so
that is two system calls and a pass through the reactor's dispatch per
socket per turn, more than the ``send()`` itself. Here the frames written
to a TCP connection during a turn are kept in order and, at the start of
the next turn, joined and sent straight to its socket. Only what the
kernel does not take goes to the transport's own buffer, so Twisted's
flow control (``bufferSize``, the producer that trips the outbound
budget) and error handling apply to it as before.

Anything else (TLS, in-memory transports of the tests) is written to its
transport at once. A protocol that is about to write by another path, or
to close, calls :meth:`WriteCoalescer.flush_transport` first, so its bytes
keep their order.
"""
from twisted.logger import Logger

_log = Logger()


def send_now(transport, data):
    """Send ``data`` on a plain TCP transport's socket if nothing of it is buffered; the rest (or
    all of it, when it cannot) goes through ``transport.write``."""
    if (transport.connected and not transport.disconnecting and not transport.dataBuffer
            and not transport._tempDataLen):
        sent = transport.writeSomeData(data)
        if type(sent) is int:
            if sent == len(data):
                return
            data = data[sent:]
        # an error: the transport meets it again on its own write and closes the connection as usual
    transport.write(data)


class WriteCoalescer:
    """Frames for plain TCP transports (``twisted.internet.tcp.Server``; the protocols check), kept until
    the reactor's next turn."""

    def __init__(self, reactor):
        self._reactor = reactor
        # transport -> frames written to it this turn, in order; a hot path that finds a transport's
        # list here may append to it directly (write() is only needed for a transport's first frame)
        self.pending = {}
        self._scheduled = False
        self.flushes = 0            # turns that sent something (for tests and profiling)

    def write(self, transport, frame):
        frames = self.pending.get(transport)
        if frames is not None:
            frames.append(frame)
            return
        self.pending[transport] = [frame]
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self.flush)

    def flush_transport(self, transport):
        """Send what is gathered for ``transport`` now: it is about to be written to another way, or closed."""
        frames = self.pending.pop(transport, None)
        if frames:
            send_now(transport, b"".join(frames))

    def flush(self):
        """Send every transport's frames of the turn that ended, one ``send()`` each."""
        self._scheduled = False
        pending, self.pending = self.pending, {}
        if pending:
            self.flushes += 1
        for transport, frames in pending.items():
            try:
                send_now(transport, frames[0] if len(frames) == 1 else b"".join(frames))
            except Exception:  # noqa: BLE001 - one broken transport must not keep the others' bytes back
                _log.failure("writing to {transport}", transport=transport)
