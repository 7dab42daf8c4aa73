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
from typing import Any, Callable, List, NamedTuple

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

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


class SessionWatcher(NamedTuple):
    """An in-process service told of every client session's join and leave (:meth:`SessionMeta.watch`)."""

    service: Any
    joined: Callable
    left: Callable


class SessionMeta:
    """Publishes join/leave events and answers the session meta procedures."""

    def __init__(self, realm):
        self._realm = realm
        self._watchers = []  # (service session, joined, left) of in-process services (see watch)
        realm.dealer.add_builtin("wamp.session.count", self.count)
        realm.dealer.add_builtin("wamp.session.list", self.list)
        realm.dealer.add_builtin("wamp.session.get", self.get)
        realm.dealer.add_builtin("wamp.session.kill", self.kill)
        realm.dealer.add_builtin("wamp.session.kill_by_authid", self.kill_by_authid)
        realm.dealer.add_builtin("wamp.session.kill_by_authrole", self.kill_by_authrole)

    def joined(self, info):
        details = info.as_dict(with_transport=True)
        if self._watchers:
            self._tell("joined", details)
        broker = self._realm.broker
        broker.publish_internal("wamp.session.on_join", [details], audience=_SEES_TRANSPORT)
        broker.publish_internal("wamp.session.on_join", [info.as_dict()], audience=_NOT_SEES_TRANSPORT)

    def left(self, info):
        if self._watchers:
            self._tell("left", info.id, info.authid, info.authrole)
        self._realm.broker.publish_internal("wamp.session.on_leave", [info.id, info.authid, info.authrole])

    # -- in-process watchers ------------------------------------------------------------------------------
    def watch(self, service, joined, left) -> None:
        """While the in-process ``service`` session stays attached, call ``joined(details)`` and
        ``left(session_id, authid, authrole)`` (what on_join and on_leave carry, with the transport) for
        every client session: a join then costs no EVENT built and dispatched through Autobahn."""
        self._watchers.append(SessionWatcher(service, joined, left))

    def _tell(self, which: str, *args) -> None:
        """Call every watcher's ``which`` (``joined`` or ``left``) with ``args``; forget those whose service left."""
        for watcher in list(self._watchers):
            service = watcher.service
            if self._realm.session(service.info.id) is not service:
                self._watchers.remove(watcher)  # the service left
                continue
            try:
                result = getattr(watcher, which)(*args)
            except Exception:
                self._realm.log_failure("a session watcher failed")
                continue
            if result is not None:
                defer.ensureDeferred(result).addErrback(self._watcher_failed)

    def _watcher_failed(self, failure) -> None:
        self._realm.log.failure("a session watcher failed", failure)

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

    # -- ending other sessions (admins; a config file may grant it to others) ---------------------------
    def kill(self, caller, args, kwargs):
        """End one session (not the caller's own) with GOODBYE ``reason``; no_such_session when not here."""
        session_id = as_id(args[0]) if args else None
        if not isinstance(session_id, int) or isinstance(session_id, bool):
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "session id must be an integer")
        if session_id == caller.id:
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "a session cannot kill itself; leave instead")
        if not self._end([session_id], kwargs):
            raise ApplicationError(ApplicationError.NO_SUCH_SESSION, f"no session {session_id}")
        return None

    def kill_by_authid(self, caller, args, kwargs):
        """End every session of an authid (but the caller's own): the ids of those ended."""
        authid = _text_arg(args, kwargs, "authid")
        return self._end([i.id for i in self._realm.sessions() if i.authid == authid and i.id != caller.id], kwargs)

    def kill_by_authrole(self, caller, args, kwargs):
        """End every session of an authrole (but the caller's own): how many were ended."""
        authrole = _text_arg(args, kwargs, "authrole")
        return len(self._end([i.id for i in self._realm.sessions() if i.authrole == authrole and i.id != caller.id],
                             kwargs))

    def _end(self, session_ids, kwargs) -> List:
        reason = (kwargs or {}).get("reason") or "wamp.close.killed"
        text = (kwargs or {}).get("message")
        if not isinstance(reason, str) or not (text is None or isinstance(text, str)):
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "reason and message must be strings")
        ended = []
        for session_id in session_ids:
            session = self._realm.session(session_id)
            if session is not None and session.info.authrole != TRUSTED and session.is_open():
                end_session(self._realm.clock, session, reason, text)
                ended.append(session_id)
        return ended


KILL_GRACE = 5.0   # seconds a killed session has to answer GOODBYE before its connection is closed


def end_session(clock, session, reason: str, text, grace: float = KILL_GRACE) -> None:
    """Tell ``session`` GOODBYE ``reason`` (it can do nothing more), and close its connection ``grace`` seconds
    later if it has not answered: a killed, banned or logged-out session keeps nothing."""
    session.leave(reason, text)
    clock.callLater(grace, _close_if_open, session)


def _close_if_open(session):
    if session.is_open():
        session.close_transport()


def _text_arg(args, kwargs, name):
    value = args[0] if args else (kwargs or {}).get(name)
    if not isinstance(value, str) or not value:
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT, f"{name} must be a non-empty string")
    return value
