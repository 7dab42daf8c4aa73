"""The Router: realms, authentication, metrics and health, and the session factory transports use."""
from wampchat.router.auth import Authenticator
from wampchat.router.autobahn_debug import format_debug_only_when_logged
from wampchat.router.config import RouterConfig
from wampchat.router.credentials import CredentialsChain, StaticCredentials
from wampchat.router.metrics import Metrics
from wampchat.router.realm import Realm
from wampchat.router.session import RouterSession
from wampchat.router.write_coalescing import WriteCoalescer


class Router:
    """Everything one router process routes; transports get sessions from ``session_factory``."""

    def __init__(self, reactor, config=None):
        format_debug_only_when_logged()  # before any transport of this router logs
        self.reactor = reactor
        self.config = config or RouterConfig()
        self.metrics = Metrics()
        self.write_coalescer = WriteCoalescer(reactor)
        self.session_limits = self.config.session_limits()
        self.health = {}
        self.credentials = CredentialsChain([StaticCredentials(self.config.users, self.config.keys)])
        self.authenticator = Authenticator(reactor, self.credentials, allow_guests=self.config.allow_guests)
        self._realms = {}
        self.realm(self.config.realm)
        self.metrics.gauge("wampchat_subscriptions", "subscriptions in all realms",
                           lambda: sum(r.broker.subscription_count() for r in self._realms.values()))
        self.metrics.gauge("wampchat_registrations", "registrations in all realms",
                           lambda: sum(r.dealer.registration_count() for r in self._realms.values()))

    def realm(self, name):
        """The realm called ``name``, created on first use by the embedding code."""
        if name not in self._realms:
            self._realms[name] = Realm(name, self)
        return self._realms[name]

    def get_realm(self, name):
        """The realm a HELLO asks for, or None: peers cannot create realms."""
        return self._realms.get(name)

    def session_factory(self):
        """A new RouterSession for a transport (Autobahn calls this per connection)."""
        return RouterSession(self)

    def session_count(self):
        return sum(len(r) for r in self._realms.values())

    def shutdown(self):
        """Say GOODBYE to every session (on service stop)."""
        for realm in self._realms.values():
            for session in realm.all_sessions():
                session.leave("wamp.close.system_shutdown", "the router is shutting down")
