"""
``twistd wampchat``: command-line options and the service tree.

``makeService`` only assembles: a Router, one web Site per ``--listen``, a
RawSocket factory per ``--rawsocket``, and the in-process services.
"""
import os
import re

from twisted.application import service
from twisted.internet import defer
from twisted.python import usage

from wampchat.listening import ListeningService
from wampchat.router.config import ConfigError, RouterConfig, load_config

DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
DEFAULT_WEB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")


def _check_endpoint(description, option):
    """Parse an endpoint string now, so a typo fails at startup with a clear message."""
    from twisted.internet import endpoints, reactor

    try:
        endpoints.serverFromString(reactor, description)
    except (ValueError, KeyError, TypeError) as e:
        raise usage.UsageError(f"--{option} {description!r} is not a valid Twisted server endpoint: {e}")


def _positive(name, value):
    if value <= 0:
        raise usage.UsageError(f"--{name} must be a positive number of bytes, not {value}")


class Options(usage.Options):
    """Options for ``twistd wampchat`` (see ``twistd wampchat --help``)."""

    synopsis = "[options]"
    longdesc = "A real-time chat server that is also an embedded WAMP router."

    optFlags = [
        ["no-guests", None, "Refuse anonymous (guest) logins."],
        ["no-open-registration", None, "Refuse chat.user.register (add users with wampchat-admin)."],
    ]
    optParameters = [
        ["realm", None, "wampchat", "The WAMP realm clients join."],
        ["config", None, None, "A JSON config file with roles/permissions and users (format: README)."],
        ["web", None, DEFAULT_WEB, "Directory of static files served at /."],
        ["max-message-size", None, 1024 * 1024, "Largest WAMP message accepted, in bytes.", int],
        ["outbound-buffer", None, 4 * 1024 * 1024,
         "Bytes a peer may fall behind before it is disconnected as a slow consumer.", int],
        ["max-connections-per-address", None, 100,
         "Open connections (web and RawSocket together) one source address may hold; 0 = no limit.", int],
        ["handshake-timeout", None, 10.0,
         "Seconds a new connection has to send its HTTP request, or to upgrade to WebSocket (or finish the "
         "RawSocket handshake) and send WAMP HELLO.", float],
        ["db", None, "./var/wampchat.sqlite", "The chat database (SQLite file; created if missing)."],
        ["send-rate", None, 20, "Chat messages one session may send per 10 seconds.", int],
        ["amqp", None, None,
         "Bridge to RabbitMQ: amqp://user:pass@host:5672/vhost, or amqps://... (certificate checked; "
         "?cafile=ca.pem to trust a private CA). [default: off]"],
        ["amqp-exchange", None, "wampchat", "The AMQP topic exchange publications are mirrored to."],
        ["amqp-node-users", None, None,
         "Comma-separated broker users of wampchat nodes, the only ones whose chat.* messages are accepted "
         "[default: the --amqp user]."],
        ["amqp-outbox", None, 10000, "Publications kept while the broker is away; past it the oldest are dropped.",
         int],
        ["amqp-retry-max", None, 10.0, "Longest wait between AMQP reconnection attempts, in seconds.", float],
        ["node-id", None, None,
         "This node's id in message ids and AMQP headers (1..16 of a-z0-9) [default: random]."],
    ]

    def __init__(self):
        super().__init__()
        self["listen"] = []
        self["rawsocket"] = []

    def opt_listen(self, endpoint):
        """Serve the page and WAMP (/ws) on this Twisted server endpoint, e.g.
        tcp:8080:interface=0.0.0.0 or ssl:8443:privateKey=key.pem:certKey=cert.pem.
        Repeatable. [default: tcp:8080:interface=127.0.0.1]"""
        self["listen"].append(endpoint)

    def opt_rawsocket(self, endpoint):
        """Also serve WAMP over RawSocket on this endpoint (e.g. tcp:8081). Repeatable. [default: off]"""
        self["rawsocket"].append(endpoint)

    def postOptions(self):
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        for endpoint in self["listen"]:
            _check_endpoint(endpoint, "listen")
        for endpoint in self["rawsocket"]:
            _check_endpoint(endpoint, "rawsocket")
        _positive("max-message-size", self["max-message-size"])
        _positive("outbound-buffer", self["outbound-buffer"])
        if self["max-connections-per-address"] < 0:
            raise usage.UsageError("--max-connections-per-address must be 0 (no limit) or a positive number, "
                                   f"not {self['max-connections-per-address']}")
        if not self["handshake-timeout"] > 0:
            raise usage.UsageError(f"--handshake-timeout must be a positive number of seconds, "
                                   f"not {self['handshake-timeout']}")
        if self["send-rate"] <= 0:
            raise usage.UsageError(f"--send-rate must be a positive number, not {self['send-rate']}")
        if self["node-id"] is None:
            self["node-id"] = os.urandom(4).hex()
        elif not re.match(r"^[a-z0-9]{1,16}$", self["node-id"]):
            raise usage.UsageError("--node-id must be 1..16 characters of a-z and 0-9")
        if self["amqp"]:
            from wampchat.amqp import settings_from_options

            self["amqp_settings"] = settings_from_options(self)
        self["router_config"] = self._router_config()

    def _router_config(self):
        config = RouterConfig(realm=self["realm"], max_message_size=self["max-message-size"],
                              outbound_buffer=self["outbound-buffer"])
        if self["config"]:
            try:
                config = load_config(self["config"], config)
            except ConfigError as e:
                raise usage.UsageError(str(e))
        if self["no-guests"]:
            config.allow_guests = False
        return config


class WampchatService(service.MultiService):
    """The root service; ``router`` is the embedded WAMP router.

    ``ready`` fires once every in-process service (chat, AMQP bridge) has
    started, so tests and embedders know when calls will be answered.
    """

    def __init__(self, router):
        super().__init__()
        self.router = router
        self.ready = None

    def startService(self):
        super().startService()
        waiting = [child.ready for child in self if getattr(child, "ready", None) is not None]
        self.ready = defer.gatherResults(waiting, consumeErrors=True)

    def stopService(self):
        self.router.shutdown()
        return super().stopService()


def makeService(options, reactor=None):
    from twisted.internet import reactor as default_reactor

    from wampchat.router import Router
    from wampchat.router.transports import ConnectionGuard, RouterRawSocketFactory
    from wampchat.router.serializers import wamp_serializers
    from wampchat.web import make_site

    reactor = reactor or default_reactor
    config = options["router_config"]
    router = Router(reactor, config)
    root = WampchatService(router)

    guard = ConnectionGuard(reactor, router.metrics, max_per_address=options["max-connections-per-address"],
                            handshake_timeout=options["handshake-timeout"])
    site = make_site(router, options["web"], config.max_message_size, config.outbound_buffer, guard=guard)
    for endpoint in options["listen"]:
        ListeningService(reactor, endpoint, site, name=f"web:{endpoint}").setServiceParent(root)
    if options["rawsocket"]:
        raw = RouterRawSocketFactory(router, wamp_serializers(), config.max_message_size, config.outbound_buffer,
                                     guard=guard)
        for endpoint in options["rawsocket"]:
            ListeningService(reactor, endpoint, raw, name=f"rawsocket:{endpoint}").setServiceParent(root)

    # In-process services: the chat service, then (with --amqp) the AMQP bridge.
    from wampchat.chat.runtime import ChatRuntime
    from wampchat.chat.service import ChatSettings

    chat_settings = ChatSettings(open_registration=not options["no-open-registration"],
                                 send_rate=options["send-rate"], node_id=options["node-id"])
    ChatRuntime(router, config.realm, options["db"], chat_settings, reactor).setServiceParent(root)
    if options["amqp"]:
        from wampchat.amqp import AmqpBridge

        AmqpBridge(router, config.realm, options["amqp_settings"], reactor).setServiceParent(root)
    return root
