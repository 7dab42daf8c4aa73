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


def default_web_dir():
    """The page to serve at / when ``--web`` is not given.

    An installed wampchat carries its page as package data (``wampchat/static/``,
    copied from web/ and npm's AutobahnJS when the wheel is built, see setup.py);
    a source checkout or editable install has none there and serves the
    repository's ``web/`` beside the package, with AutobahnJS in its node_modules.
    """
    package_dir = os.path.dirname(os.path.realpath(__file__))  # realpath: strict editable installs link files
    packaged = os.path.join(package_dir, "static")
    if os.path.isfile(os.path.join(packaged, "index.html")):
        return packaged
    return os.path.join(os.path.dirname(package_dir), "web")


DEFAULT_WEB = default_web_dir()


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


def _positive_int(name):
    """A coercer for ``--name``: a positive whole number, else an error that names the option."""

    def coerce(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"--{name} must be a positive whole number, not {text!r}")
        return value

    return coerce


# Per-session limits: option -> RouterConfig field.
SESSION_LIMIT_OPTIONS = {
    "max-subscriptions": "max_subscriptions",
    "max-registrations": "max_registrations",
    "max-calls-in-flight": "max_calls_in_flight",
}


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
        ["max-subscriptions", None, 1000, "Subscriptions one session may hold at once.",
         _positive_int("max-subscriptions")],
        ["max-registrations", None, 100, "Registrations one session may hold at once.",
         _positive_int("max-registrations")],
        ["max-calls-in-flight", None, 1000, "Calls one session may have waiting for an answer at once.",
         _positive_int("max-calls-in-flight")],
        ["db", None, "./var/wampchat.sqlite",
         "The chat database: a SQLite file (created if missing) or postgresql://user:pass@host:5432/dbname "
         "(shared by every node of a cluster). Pending schema migrations run at start."],
        ["send-rate", None, 20, "Chat messages one user may send per 10 seconds (counted on every node).", int],
        ["register-rate", None, 20, "Accounts one network address may register per hour (chat.user.register).",
         int],
        ["create-rate", None, 20, "Rooms one user may create per hour (chat.room.create).", int],
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
         "This node's id in the cluster, AMQP headers and queues (1..16 of a-z0-9); give each node of a cluster "
         "a fixed one, so a restart takes over its old presence at once [default: random]."],
        ["node-heartbeat", None, 5.0, "Seconds between this node's presence heartbeats.", float],
        ["node-timeout", None, 15.0,
         "Seconds without a heartbeat after which a node counts as dead and its users go offline.", float],
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
        if self["node-heartbeat"] <= 0 or self["node-timeout"] <= self["node-heartbeat"]:
            raise usage.UsageError("--node-heartbeat must be positive and --node-timeout longer than it")
        for name in ("send-rate", "register-rate", "create-rate"):
            if self[name] <= 0:
                raise usage.UsageError(f"--{name} must be a positive number, not {self[name]}")
        if self["node-id"] is None:
            self["node-id"] = os.urandom(4).hex()
        elif not re.match(r"^[a-z0-9]{1,16}$", self["node-id"]):
            raise usage.UsageError("--node-id must be 1..16 characters of a-z and 0-9")
        from wampchat.storage import StartupError, engine_for

        try:
            engine_for(self["db"])
        except StartupError as e:
            raise usage.UsageError(str(e))
        if self["amqp"]:
            from wampchat.amqp import settings_from_options

            self["amqp_settings"] = settings_from_options(self)
        self["router_config"] = self._router_config()

    def _router_config(self):
        limits = {field: self[option] for option, field in SESSION_LIMIT_OPTIONS.items()}
        config = RouterConfig(realm=self["realm"], max_message_size=self["max-message-size"],
                              outbound_buffer=self["outbound-buffer"], **limits)
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
    """The service tree for ``twistd wampchat``; a database that cannot be used stops the start with one line."""
    from wampchat.storage import StartupError

    try:
        return build_service(options, reactor)
    except StartupError as e:
        raise SystemExit(f"wampchat: {e}")


def build_service(options, reactor=None):
    """:func:`makeService` for embedders and tests: raises StartupError instead of exiting."""
    from twisted.internet import reactor as default_reactor

    from wampchat.storage import prepare_database

    from wampchat.router import Router
    from wampchat.router.transports import ConnectionGuard, RouterRawSocketFactory
    from wampchat.router.serializers import wamp_serializers
    from wampchat.web import make_site

    reactor = reactor or default_reactor
    config = options["router_config"]
    engine = prepare_database(options["db"])
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
                                 send_rate=options["send-rate"], node_id=options["node-id"],
                                 register_rate=options["register-rate"], create_rate=options["create-rate"])
    ChatRuntime(router, config.realm, engine, chat_settings, reactor, options["node-heartbeat"],
                options["node-timeout"]).setServiceParent(root)
    if options["amqp"]:
        from wampchat.amqp import AmqpBridge

        AmqpBridge(router, config.realm, options["amqp_settings"], reactor).setServiceParent(root)
    return root
