"""
A wampchat node's service tree, as ``twistd wampchat``, tests and embedders run it: the router; one web Site
per ``--listen`` and a RawSocket factory per ``--rawsocket``, both behind one ConnectionGuard; the chat
runtime; and with ``--amqp`` the bridge to RabbitMQ. Built from parsed options (``wampchat.tap.Options``).
"""
from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.listening import ListeningService


class WampchatService(service.MultiService):
    """The root service; ``router`` is the embedded WAMP router.

    ``ready`` fires once every in-process service (chat, AMQP bridge) has
    started, so tests and embedders know when calls will be answered.
    """

    log = Logger()

    def __init__(self, router, reactor=None):
        super().__init__()
        self.router = router
        self.ready = None
        self.reactor = reactor
        self.file_gate = None   # the Site's /files resource, handed to the chat runtime
        self.hook_gate = None   # the Site's /hooks resource, likewise
        self.longpoll = None    # the Site's long-poll transports, ended on stop
        self.exit_on_listen_failure = False  # makeService (twistd) sets it; embedders get a failed `listening`

    def privilegedStartService(self):
        super().privilegedStartService()  # the listeners bind here, before any other service starts
        if self.exit_on_listen_failure:
            self._exit_if_a_port_fails()

    def _exit_if_a_port_fails(self):
        """Under twistd a port that cannot be had ends the process with one line and status 1.

        Otherwise it would run on, listening on nothing. Every endpoint
        Twisted ships binds at once, so this exits before the reactor runs;
        one that fails later stops the reactor.
        """
        failed = []

        def cannot_listen(failure, listener):
            self.log.critical("wampchat: {problem}", problem=listener.failure_text)
            failed.append(listener)
            if self.running:
                (self.reactor or _default_reactor()).stop()

        for child in self:
            if isinstance(child, ListeningService):
                child.listening.addErrback(cannot_listen, child)
        if failed:
            raise SystemExit(1)

    def startService(self):
        super().startService()
        waiting = [child.ready for child in self if getattr(child, "ready", None) is not None]
        self.ready = defer.gatherResults(waiting, consumeErrors=True)

    @defer.inlineCallbacks
    def stopService(self):
        """Leave the cluster first, while the chat service and the AMQP link can still announce this node's
        users offline to the others; then end every session and stop the children."""
        for child in self:
            leave = getattr(child, "leave_cluster", None)
            if leave is not None:
                yield leave()
        self.router.shutdown()
        if self.longpoll is not None:
            self.longpoll.close_all()
        yield super().stopService()


def _default_reactor():
    from twisted.internet import reactor

    return reactor


def login_limits(options, reactor):
    """The Authenticator's login and guest limits from --login-* and --guest-rate."""
    from wampchat.router.login_limits import LoginLimits, Rate, guest_rate

    return LoginLimits(reactor,
                       address=Rate(options["login-address-burst"], options["login-address-refill"]),
                       account=Rate(options["login-account-burst"], options["login-account-refill"]),
                       guests=guest_rate(options["guest-rate"]))


def build_service(options, reactor=None):
    """:func:`wampchat.tap.makeService` for embedders and tests: raises StartupError instead of exiting."""
    from twisted.internet import reactor as default_reactor

    from wampchat.router import Router
    from wampchat.storage import prepare_database

    reactor = reactor or default_reactor
    engine = prepare_database(options["db"])
    router = Router(reactor, options["router_config"])
    router.authenticator.limits = login_limits(options, reactor)
    root = WampchatService(router, reactor)
    add_listeners(root, options, reactor)
    add_in_process_services(root, options, engine, reactor)
    return root


def add_listeners(root: WampchatService, options, reactor) -> None:
    """The web Site on every ``--listen`` and RawSocket on every ``--rawsocket``, all admitted by one
    ConnectionGuard, so the per-address cap counts a client's connections on every port together."""
    from wampchat.router.serializers import wamp_serializers
    from wampchat.router.transports.client_address import TrustedProxies
    from wampchat.router.transports.connection_guard import ConnectionGuard
    from wampchat.router.transports.rawsocket import RouterRawSocketFactory
    from wampchat.web.site import make_site

    router, config = root.router, options["router_config"]
    trusted = TrustedProxies(options["trusted-proxy"])
    guard = ConnectionGuard(reactor, router.metrics, max_per_address=options["max-connections-per-address"],
                            handshake_timeout=options["handshake-timeout"], trusted=trusted)
    site = make_site(router, options["web"], config.max_message_size, config.outbound_buffer, guard=guard,
                     max_upload=options["max-upload"], trusted_proxies=trusted)
    root.file_gate, root.hook_gate, root.longpoll = site.file_gate, site.hook_gate, site.longpoll
    site = behind_proxy_protocol(site, options, reactor, trusted)
    for endpoint in options["listen"]:
        ListeningService(reactor, endpoint, site, name=f"web:{endpoint}").setServiceParent(root)
    if options["rawsocket"]:
        raw = RouterRawSocketFactory(router, wamp_serializers(), config.max_message_size, config.outbound_buffer,
                                     guard=guard)
        raw = behind_proxy_protocol(raw, options, reactor, trusted)
        for endpoint in options["rawsocket"]:
            ListeningService(reactor, endpoint, raw, name=f"rawsocket:{endpoint}").setServiceParent(root)


def behind_proxy_protocol(factory, options, reactor, trusted):
    """``factory`` as is, or with --proxy-protocol wrapped so every connection starts with a PROXY header."""
    if not options["proxy-protocol"]:
        return factory
    from wampchat.router.transports.proxy_protocol import ProxyProtocolFactory

    return ProxyProtocolFactory(factory, reactor, trusted)


def chat_settings(options):
    """The chat service's settings from the options; with --amqp the broker's node users are reserved names,
    so no one can register a chat name that is also a node's."""
    from wampchat.chat.settings import ChatSettings

    settings = ChatSettings(open_registration=not options["no-open-registration"],
                            send_rate=options["send-rate"], node_id=options["node-id"],
                            register_rate=options["register-rate"], create_rate=options["create-rate"],
                            guest_send_rate=options["guest-send-rate"], dm_rate=options["dm-rate"],
                            dm_address_rate=options["dm-address-rate"],
                            retention_days=options["retention-days"], max_upload=options["max-upload"],
                            upload_quota=options["upload-quota"], link_previews=options["link-previews"])
    if options["amqp"]:
        settings.reserved_names = frozenset(options["amqp_settings"].node_users)
    return settings


def add_in_process_services(root: WampchatService, options, engine, reactor) -> None:
    """The services running inside the router: the chat service, then (with --amqp) the AMQP bridge and, on a
    shared database, the cluster's registry, in the order they start."""
    from wampchat.chat.runtime import ChatRuntime

    realm = options["router_config"].realm
    settings = chat_settings(options)
    runtime = ChatRuntime(root.router, realm, engine, settings, reactor, options["node-heartbeat"],
                          options["node-timeout"], file_gate=root.file_gate, hook_gate=root.hook_gate)
    runtime.setServiceParent(root)
    if options["amqp"]:
        from wampchat.amqp import AmqpBridge

        bridge = AmqpBridge(root.router, realm, options["amqp_settings"], reactor)
        bridge.setServiceParent(root)
        if engine.shared:   # nodes on one database and one broker are one router (calls cross nodes)
            from wampchat.cluster.service import ClusterService

            ClusterService(root.router.realm(realm), runtime, bridge, settings.node_id, reactor).setServiceParent(root)
