"""A service that listens on a Twisted endpoint string and remembers its port."""
from twisted.application import service
from twisted.internet import defer, endpoints
from twisted.logger import Logger


class ListeningService(service.Service):
    """Like ``strports.service``, but exposes ``port`` and ``listening`` (tests bind port 0)."""

    log = Logger()

    def __init__(self, reactor, description, factory, name=None):
        self._reactor = reactor
        self.description = description
        self.factory = factory
        self.port = None
        self.listening = defer.Deferred()
        if name:
            self.setName(name)

    def startService(self):
        super().startService()
        endpoint = endpoints.serverFromString(self._reactor, self.description)
        d = endpoint.listen(self.factory)
        d.addCallback(self._listening)
        d.addErrback(self._failed)

    def _listening(self, port):
        self.port = port
        self.log.info("listening on {description} ({host})", description=self.description, host=port.getHost())
        self.listening.callback(port)

    def _failed(self, failure):
        self.log.failure("cannot listen on {description}", failure, description=self.description)
        self.listening.errback(failure)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            port, self.port = self.port, None
            self.listening = defer.Deferred()
            return port.stopListening()
        return None

    @property
    def address(self):
        return self.port.getHost() if self.port is not None else None
