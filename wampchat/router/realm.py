"""A realm: its sessions, broker, dealer, authorizer and session meta API."""
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.authorize import Authorizer
from wampchat.router.broker import Broker
from wampchat.router.dealer import Dealer
from wampchat.router.meta import SessionMeta


class SessionInfo:
    """Who a session is, as other parts of the router and services see it."""

    __slots__ = ("id", "realm", "authid", "authrole", "authmethod", "authprovider", "authextra", "transport")

    def __init__(self, id, realm, authid, authrole, authmethod, authprovider="static",
                 authextra=None, transport=None):
        self.id = id
        self.realm = realm
        self.authid = authid
        self.authrole = authrole
        self.authmethod = authmethod
        self.authprovider = authprovider
        self.authextra = authextra or {}
        self.transport = transport or {}

    def as_dict(self):
        """The shape of ``wamp.session.get`` and ``wamp.session.on_join``."""
        return {
            "session": self.id,
            "authid": self.authid,
            "authrole": self.authrole,
            "authmethod": self.authmethod,
            "authprovider": self.authprovider,
            "authextra": self.authextra,
            "transport": self.transport,
        }

    def __repr__(self):
        return f"<SessionInfo {self.id} {self.authid}/{self.authrole}>"


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
        self._sessions = {}
        self._join_hooks = []

    # -- membership -----------------------------------------------------
    def add_join_hook(self, hook):
        """``hook(session_info)`` runs before WELCOME; raise ApplicationError to refuse."""
        self._join_hooks.append(hook)

    @defer.inlineCallbacks
    def run_join_hooks(self, info):
        for hook in self._join_hooks:
            yield hook(info)

    def attach(self, session):
        self._sessions[session.info.id] = session
        self.metrics.sessions.value = self.metrics.sessions.value + 1
        self.meta.joined(session.info)

    def detach(self, session):
        if self._sessions.pop(session.info.id, None) is None:
            return
        self.metrics.sessions.value = self.metrics.sessions.value - 1
        self.broker.detach(session)
        self.dealer.detach(session)
        self.meta.left(session.info)

    def log_failure(self, why):
        """Log the exception being handled, with ``why`` (called from except blocks)."""
        self.log.failure(why)

    # -- lookups --------------------------------------------------------
    def session(self, session_id):
        return self._sessions.get(session_id)

    def session_info(self, session_id):
        session = self._sessions.get(session_id)
        return session.info if session is not None else None

    def sessions(self):
        return [s.info for s in self._sessions.values()]

    def __len__(self):
        return len(self._sessions)
