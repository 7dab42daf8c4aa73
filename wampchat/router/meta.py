"""
The session meta API: ``wamp.session.count/list/get`` and ``on_join/on_leave``.

The procedures are answered by the dealer directly (no registration, no
extra hop); the events go through the broker like any publication.

Who may use it: by default only the ``admin`` and ``service`` roles (and
in-process ``trusted`` services such as the chat service), because it lists
every online user, role and login method; the permissions live in
:mod:`wampchat.router.config` like any other, so a config file can grant it
to more roles. Others get ERROR ``wamp.error.not_authorized``.

Privacy: a session's ``transport`` (its peer address, i.e. the user's IP and
port) is shown only to the roles in :data:`TRANSPORT_ROLES` (API.md §3).
``wamp.session.get`` includes it for them alone; ``on_join`` is published
twice, once with ``transport`` to those roles and once without it to
everyone else, so every subscriber gets exactly one event per join.
"""
from autobahn.wamp.exception import ApplicationError

from wampchat.router.authorize import TRUSTED
from wampchat.router.broker import Audience
from wampchat.router.incoming_values import as_id

# admin and service may see peer addresses; so may in-process services (trusted).
TRANSPORT_ROLES = frozenset({"admin", "service", TRUSTED})
_SEES_TRANSPORT = Audience(eligible_authrole=TRANSPORT_ROLES)
_NOT_SEES_TRANSPORT = Audience(exclude_authrole=TRANSPORT_ROLES)


def sees_transport(info):
    """May the session described by ``info`` learn other sessions' peer addresses?"""
    return info.authrole in TRANSPORT_ROLES


def _roles_filter(args, kwargs):
    roles = args[0] if args else (kwargs or {}).get("filter_authroles")
    if roles is not None and not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "filter_authroles must be a list of strings")
    return roles


class SessionMeta:
    """Publishes join/leave events and answers the session meta procedures."""

    def __init__(self, realm):
        self._realm = realm
        realm.dealer.add_builtin("wamp.session.count", self.count)
        realm.dealer.add_builtin("wamp.session.list", self.list)
        realm.dealer.add_builtin("wamp.session.get", self.get)

    def joined(self, info):
        broker = self._realm.broker
        broker.publish_internal("wamp.session.on_join", [info.as_dict(with_transport=True)],
                                audience=_SEES_TRANSPORT)
        broker.publish_internal("wamp.session.on_join", [info.as_dict()], audience=_NOT_SEES_TRANSPORT)

    def left(self, info):
        self._realm.broker.publish_internal("wamp.session.on_leave", [info.id, info.authid, info.authrole])

    def _matching(self, args, kwargs):
        roles = _roles_filter(args, kwargs)
        infos = self._realm.sessions()
        return infos if roles is None else [i for i in infos if i.authrole in roles]

    def count(self, caller, args, kwargs):
        return len(self._matching(args, kwargs))

    def list(self, caller, args, kwargs):
        return [i.id for i in self._matching(args, kwargs)]

    def get(self, caller, args, kwargs):
        session_id = as_id(args[0]) if args else None  # 1234.0 from wampy over CBOR is the id 1234
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "session id must be an integer")
        info = self._realm.session_info(session_id)
        if info is None:
            raise ApplicationError(ApplicationError.NO_SUCH_SESSION, f"no session {session_id}")
        return info.as_dict(with_transport=sees_transport(caller))
