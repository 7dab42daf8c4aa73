"""A service that listens on a Twisted endpoint string and remembers its port."""
import errno
from typing import Optional

from twisted.application import service
from twisted.internet import defer, endpoints, error
from twisted.logger import Logger
from twisted.python.failure import Failure

# Twisted listens with a backlog of 50; after a restart every client reconnects at once (20,000 SYNs),
# and the connections past the accept queue wait for TCP's retransmits (1, 3, 7, 15 ... s), so the
# last ones come back minutes later. The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096
BACKLOG_KINDS = ("tcp", "tcp6", "ssl", "unix")
# Twisted accepts 20 more connections on each turn of the reactor that found its last batch full, so in a
# storm it takes on connections far faster than it can upgrade and welcome them, and their handshake
# deadline (which starts at accept) passes while their HELLO waits unread. Those past this many per turn
# wait in the kernel's accept queue instead, on no clock of ours.
ACCEPTS_PER_TURN = 64


def with_backlog(description: str) -> str:
    """``description`` with ``backlog=LISTEN_BACKLOG`` for a stream endpoint that does not name one."""
    kind = description.split(":", 1)[0]
    if kind not in BACKLOG_KINDS or "backlog=" in description:
        return description
    return f"{description}:backlog={LISTEN_BACKLOG}"


# errno -> how a user reads it, for the usual reasons a listen fails.
LISTEN_ERRNO_TEXT = {
    errno.EADDRINUSE: "address already in use",
    errno.EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
    errno.EADDRNOTAVAIL: "no such address on this machine",
}


def cannot_listen_text(description: str, failure: Failure) -> str:
    """One line for a failed listen: the endpoint string as given, then why, without Twisted's wrapping."""
    return f"cannot listen on {description}: {_listen_reason(failure.value)}"


def _listen_reason(value: BaseException) -> str:
    if isinstance(value, error.CannotListenError) and value.socketError is not None:
        value = value.socketError
    number = getattr(value, "errno", None)
    if number in LISTEN_ERRNO_TEXT:
        return LISTEN_ERRNO_TEXT[number]
    return getattr(value, "strerror", None) or str(value) or type(value).__name__


class ListeningService(service.Service):
    """Like ``strports.service``, but exposes ``port`` and ``listening`` (tests bind port 0).

    It binds in ``privilegedStartService`` (as Twisted's own server services
    do: before twistd drops privileges, and before any other service
    starts), or in ``startService`` when nothing called that. A failure is
    kept in ``failure_text`` and fails ``listening``; the parent decides what
    it means (under twistd: exit, see ``wampchat.node.WampchatService``).
    """

    log = Logger()

    def __init__(self, reactor, description, factory, name=None):
        self._reactor = reactor
        self.description = description
        self.factory = factory
        self.port = None
        self.listening = defer.Deferred()
        self.failure_text: Optional[str] = None
        self._bound = False
        if name:
            self.setName(name)

    def privilegedStartService(self):
        super().privilegedStartService()
        self._listen()

    def startService(self):
        super().startService()
        if not self._bound:
            self._listen()

    def _listen(self):
        self._bound = True
        self.failure_text = None
        if self.listening.called:  # a failed listen before a restart
            self.listening = defer.Deferred()
        endpoint = endpoints.serverFromString(self._reactor, with_backlog(self.description))
        d = endpoint.listen(self.factory)
        d.addCallbacks(self._listening, self._failed)

    def _listening(self, port):
        self.port = port
        cap_accepts(port, ACCEPTS_PER_TURN)
        self.log.info("listening on {description} ({host})", description=self.description, host=port.getHost())
        self.listening.callback(port)

    def _failed(self, failure):
        self.failure_text = cannot_listen_text(self.description, failure)
        self.listening.errback(failure)

    def stopService(self):
        super().stopService()
        self._bound = False
        if self.port is not None:
            port, self.port = self.port, None
            self.listening = defer.Deferred()
            return port.stopListening()
        return None

    @property
    def address(self):
        return self.port.getHost() if self.port is not None else None



def cap_accepts(port, most: int) -> None:
    """Let ``port`` (a listening TCP port) accept at most ``most`` connections per turn of the reactor."""
    if not hasattr(port, "numberAccepts"):
        return  # not a socket port Twisted adapts (UNIX sockets, test doubles)
    accept = port.doRead

    def do_read():
        try:
            return accept()
        finally:
            port.numberAccepts = min(port.numberAccepts, most)

    port.numberAccepts = min(port.numberAccepts, most)
    port.doRead = do_read
