"""A realm: its sessions, broker, dealer, authorizer and meta APIs (sessions, registrations, subscriptions)."""
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.authorize import Authorizer
from wampchat.router.broker import Broker
from wampchat.router.dealer import Dealer
from wampchat.router.inprocess import DirectRoutes, InternalCaller
from wampchat.router.event_history import EventHistory
from wampchat.router.meta import SessionMeta
from wampchat.router.testaments import Testaments
from wampchat.router.registration_meta import RegistrationMeta
from wampchat.router.subscription_meta import SubscriptionMeta


class Realm:
    """A routing namespace: sessions joined to it see each other's topics and procedures."""

    log = Logger()

    def __init__(self, name, router):
        self.name = name
        self.router = router
        self.clock = router.reactor
        self.metrics = metrics = router.metrics
        self.authorizer = Authorizer(router.config.roles)
        self.broker = Broker(self, metrics)
        self.dealer = Dealer(self, self.clock, metrics)
        self.meta = SessionMeta(self)
        self.testaments = Testaments(self)
        self.history = self.broker.history = EventHistory(self, router.config.event_history)
        self.registration_meta = RegistrationMeta(self)
        self.subscription_meta = SubscriptionMeta(self)
        self._sessions = {}   # client sessions: counted, listed and announced by the meta API
        self._services = {}   # in-process services (attach_local)
        self._join_hooks = []

    # -- membership -----------------------------------------------------
    def add_join_hook(self, hook):
        """``hook(session_info)`` runs before WELCOME; raise ApplicationError to refuse."""
        self._join_hooks.append(hook)

    def run_join_hooks(self, info):
        """Deferred of every hook run in turn (each a value, Deferred or coroutine); fails with the first refusal."""
        d = defer.succeed(None)
        for hook in self._join_hooks:
            d.addCallback(_run_hook, hook, info)
        return d

    def attach(self, session):
        """Add a joined session. In-process services are routed to but not counted or announced."""
        info = session.info
        if info.authmethod == "local":
            self._services[info.id] = session
            return
        self._sessions[info.id] = session
        self.metrics.sessions.value += 1
        self.meta.joined(info)

    def detach(self, session):
        info = session.info
        if self._services.pop(info.id, None) is None:
            if self._sessions.pop(info.id, None) is None:
                return
            self.metrics.sessions.value -= 1
            self.meta.left(info)
        self.broker.detach(session)
        self.dealer.detach(session)
        self.testaments.ended(info, session.said_goodbye)

    def log_failure(self, why):
        """Log the exception being handled, with ``why`` (called from except blocks)."""
        self.log.failure(why)

    # -- lookups --------------------------------------------------------
    def session(self, session_id):
        return self._sessions.get(session_id) or self._services.get(session_id)

    def service_routes(self, service, session_id):
        """The :class:`~wampchat.router.inprocess.DirectRoutes` of the in-process service joined as ``session_id``."""
        return DirectRoutes(self, self._services[session_id])

    def call_as(self, procedure, args, kwargs, authid, authrole):
        """Call ``procedure`` as (authid, authrole), authorized as that role; Deferred of (args, kwargs)."""
        return InternalCaller(self, authid, authrole).call(procedure, args, kwargs)

    def session_info(self, session_id):
        session = self.session(session_id)
        return session.info if session is not None else None

    def sessions(self):
        """Client sessions (not in-process services)."""
        return [s.info for s in self._sessions.values()]

    def all_sessions(self):
        """Every joined session, services included (for shutdown)."""
        return list(self._sessions.values()) + list(self._services.values())

    def __len__(self):
        return len(self._sessions)


def _run_hook(_, hook, info):
    return defer.maybeDeferred(hook, info)
