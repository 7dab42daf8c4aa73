"""
A session's opening: HELLO, authentication (CHALLENGE and AUTHENTICATE when the method asks for them), the
realm's join hooks, then WELCOME; or ABORT with the reason.

In-process services arrive already authenticated (their identity is given when they are attached): their
HELLO goes straight to the join hooks.
"""
from autobahn.wamp import message, role
from autobahn.wamp.exception import ApplicationError

from wampchat.router.auth_outcomes import Challenge, Refusal
from wampchat.router.ids import global_id
from wampchat.router.session_info import SessionInfo

ROUTER_ROLES = {
    "broker": role.RoleBrokerFeatures(
        publisher_identification=True,
        publisher_exclusion=True,
        subscriber_blackwhite_listing=True,
        pattern_based_subscription=True,
        session_meta_api=True,
        subscription_meta_api=True,
    ),
    "dealer": role.RoleDealerFeatures(
        caller_identification=True,
        pattern_based_registration=True,
        shared_registration=True,
        call_timeout=True,
        call_canceling=True,
        progressive_call_results=True,
        session_meta_api=True,
        registration_meta_api=True,
    ),
}


class RouterWelcome(message.Welcome):
    """WELCOME whose ``roles`` (always ROUTER_ROLES) are marshalled once per process, not per join."""

    _marshalled_roles = None

    def marshal(self):
        roles, self.roles = self.roles, {}
        try:
            raw = super().marshal()
        finally:
            self.roles = roles
        if RouterWelcome._marshalled_roles is None:
            RouterWelcome._marshalled_roles = message.Welcome(1, ROUTER_ROLES).marshal()[2]["roles"]
        raw[2]["roles"] = RouterWelcome._marshalled_roles
        return raw


class Opening:
    """One session's way from HELLO to WELCOME or ABORT; the session drops it once joined."""

    __slots__ = ("_session", "_router", "_preauth", "_realm", "_challenge")

    def __init__(self, session, router, preauth=None):
        self._session = session
        self._router = router
        self._preauth = preauth    # an in-process service's Identity: no authentication
        self._realm = None         # the realm HELLO asked for
        self._challenge = None     # the Challenge sent, while its AUTHENTICATE is awaited

    def step_for(self, msg):
        """What handles ``msg`` now (HELLO first, AUTHENTICATE after a CHALLENGE), or None: out of order."""
        if self._challenge is None:
            return self.hello if isinstance(msg, message.Hello) else None
        return self.authenticate if isinstance(msg, message.Authenticate) else None

    def hello(self, msg):
        realm = self._router.get_realm(msg.realm)
        if realm is None:
            self._session.abort(ApplicationError.NO_SUCH_REALM, f"no realm {msg.realm!r} on this router")
            return None
        self._realm = realm
        self._session.roles = msg.roles
        if self._preauth is not None:
            return self._welcome(self._preauth)
        d = self._router.authenticator.hello(msg, self._source())
        d.addCallbacks(self._after_hello, self._refused)
        return d

    def authenticate(self, msg):
        challenge, self._challenge = self._challenge, None
        d = self._router.authenticator.authenticate(challenge, msg.signature, self._source())
        d.addCallbacks(self._welcome, self._refused)
        return d

    def _source(self):
        """The peer's address without its port (what login limits count by), or what the transport says."""
        peer = self._session.transport_peer()
        if peer and peer.startswith("tcp"):
            return peer.rsplit(":", 1)[0]
        return peer or "unknown"

    def _after_hello(self, outcome):
        if not self._session.is_open():
            return None
        if isinstance(outcome, Challenge):
            self._challenge = outcome
            self._session.send(message.Challenge(outcome.method, outcome.extra))
            return None
        return self._welcome(outcome)

    def _refused(self, failure):
        failure.trap(Refusal)
        self._router.metrics.auth_failures.value += 1
        self._session.abort(failure.value.reason, failure.value.message)

    def _welcome(self, identity):
        session = self._session
        if not session.is_open():
            return None
        realm = self._realm
        info = SessionInfo(
            global_id(), realm.name, identity.authid, identity.authrole, identity.authmethod,
            identity.authprovider, dict(identity.authextra),
            {"type": "local" if self._preauth else "websocket-or-rawsocket",
             "peer": session.transport_peer() or "local"},
        )
        d = realm.run_join_hooks(info)

        def joined(_):
            if not session.is_open():
                return
            session.joined(realm, info)  # before WELCOME: an in-process service's onJoin runs inside that send
            session.send(RouterWelcome(
                info.id, ROUTER_ROLES, realm=realm.name, authid=info.authid, authrole=info.authrole,
                authmethod=info.authmethod, authprovider=info.authprovider, authextra=info.authextra or None,
            ))

        def hook_refused(failure):
            failure.trap(ApplicationError)
            session.abort(failure.value.error, failure.value.args[0] if failure.value.args else "refused")

        return d.addCallbacks(joined, hook_refused)
