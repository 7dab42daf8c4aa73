"""
Test helpers shipped with the package, so users can test code against wampchat.

``start_server`` runs the real service tree (``makeService``) inside the
current reactor on 127.0.0.1:0; ``connect`` joins an Autobahn client session
over a real TCP socket.
"""
from autobahn.twisted.rawsocket import WampRawSocketClientFactory
from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp import types
from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from twisted.internet import defer, endpoints

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}

# Tests log in (and open guest sessions) many times from 127.0.0.1, which the
# defaults, made for a public server, would throttle: start_server uses these
# unless its args set them (a test of the limits passes its own).
GENEROUS_LIMITS = {"--guest-rate": "0", "--login-address-burst": "100000", "--login-account-burst": "100000",
                   "--guest-send-rate": "100000"}


class RunningServer:
    """A started wampchat service tree and where to reach it."""

    def __init__(self, service, options):
        self.service = service
        self.options = options
        self.router = service.router

    def _port(self, prefix):
        for child in self.service:
            if child.name and child.name.startswith(prefix) and child.port is not None:
                return child.port.getHost().port
        return None

    @property
    def port(self):
        return self._port("web:")

    @property
    def rawsocket_port(self):
        return self._port("rawsocket:")

    @property
    def http_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self):
        return defer.maybeDeferred(self.service.stopService)


@defer.inlineCallbacks
def start_server(args=(), tmp_path=None, reactor=None):
    """Start ``twistd wampchat`` with ``args`` in this process; Deferred of RunningServer.

    Listens on 127.0.0.1:0 unless ``args`` has a ``--listen``; with
    ``tmp_path`` and no ``--db``, the chat database goes there. Guest
    sessions and password logins are not throttled (:data:`GENEROUS_LIMITS`)
    unless ``args`` set those options.
    """
    from twisted.internet import reactor as default_reactor

    from wampchat.node import build_service
    from wampchat.tap import Options

    reactor = reactor or default_reactor
    args = list(args)
    if "--listen" not in args:
        args += ["--listen", "tcp:0:interface=127.0.0.1"]
    for option, value in GENEROUS_LIMITS.items():
        if not any(arg == option or arg.startswith(option + "=") for arg in args):
            args += [option, value]
    options = Options()
    if tmp_path is not None and "--db" not in args:
        args += ["--db", str(tmp_path / "wampchat.sqlite")]
    options.parseOptions(args)
    svc = build_service(options, reactor=reactor)
    svc.startService()
    for child in svc:
        if hasattr(child, "listening"):
            yield child.listening
    ready = getattr(svc, "ready", None)
    if ready is not None:
        yield ready
    return RunningServer(svc, options)


class ClientSession(ApplicationSession):
    """An Autobahn client session that reports when it joined and when it left."""

    def __init__(self, config, authmethods, authid, secret, authextra):
        super().__init__(config)
        self.joined = defer.Deferred()
        self.left = defer.Deferred()
        self.closed = defer.Deferred()
        self.close_details = None
        self._authmethods = authmethods
        self._authid = authid
        self._secret = secret
        self._authextra = authextra

    def onConnect(self):
        self.join(self.config.realm, authmethods=self._authmethods, authid=self._authid,
                  authextra=self._authextra)

    def onChallenge(self, challenge):
        if challenge.method == "ticket":
            return self._secret
        if challenge.method == "wampcra":
            extra = challenge.extra
            key = derive_key(self._secret, extra["salt"], extra["iterations"], extra["keylen"])
            return compute_wcs(key, extra["challenge"].encode("utf-8")).decode("ascii")
        if challenge.method == "cryptosign":   # secret: an autobahn.wamp.cryptosign.CryptosignKey
            return self._secret.sign_challenge(challenge)
        raise ApplicationError("wampchat.test.unsupported", challenge.method)

    def onJoin(self, details):
        self.details = details
        if not self.joined.called:
            self.joined.callback(self)

    def onLeave(self, details):
        self.close_details = details
        if not self.joined.called:
            self.joined.errback(ApplicationError(details.reason, details.message))
        if not self.left.called:
            self.left.callback(details)
        super().onLeave(details)

    def onDisconnect(self):
        if not self.joined.called:
            self.joined.errback(ConnectionError("disconnected before joining"))
        if not self.closed.called:
            self.closed.callback(None)


@defer.inlineCallbacks
def connect(url, realm="wampchat", serializer="json", authmethods=None, authid=None, secret=None,
            authextra=None, rawsocket_port=None, reactor=None):
    """Join a client session over a real socket; Deferred of a joined :class:`ClientSession`.

    ``url`` is ``ws://127.0.0.1:PORT/ws``; with ``rawsocket_port`` the session
    uses RawSocket on that port instead.
    """
    from twisted.internet import reactor as default_reactor

    reactor = reactor or default_reactor
    config = types.ComponentConfig(realm=realm)
    session = ClientSession(config, authmethods or ["anonymous"], authid, secret, authextra)
    ser = SERIALIZERS[serializer]()
    if rawsocket_port is not None:
        factory = WampRawSocketClientFactory(lambda: session, serializer=ser)
        port = rawsocket_port
    else:
        factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[ser])
        port = int(url.split(":")[2].split("/")[0])
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    yield endpoint.connect(factory)
    yield session.joined
    return session
