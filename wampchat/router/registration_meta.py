"""
The registration meta API: ``wamp.registration.list/lookup/match/get/list_callees/count_callees`` and the
events ``wamp.registration.on_create/on_register/on_unregister/on_delete`` (WAMP's Registration Meta API,
as Crossbar.io answers it). Shared rules: :mod:`wampchat.router.registry_meta`.

Callees are this node's sessions: a registration that other nodes' callees hold (one router across nodes)
is listed, looked up and matched like any other, since a call made here reaches them, but their sessions
are not listed or counted here (their ids belong to their own nodes).
"""
from typing import List, Optional

from autobahn.wamp.exception import ApplicationError

from wampchat.router.registry_meta import (MetaEvents, announced, describe, id_arg, ids_by_match,
                                           match_option, uri_arg)

PREFIX = "wamp.registration."


class RegistrationMeta:
    """Answers the registration meta procedures and publishes its events as the dealer tells it."""

    def __init__(self, realm) -> None:
        self._dealer = dealer = realm.dealer
        self._events = MetaEvents(realm, PREFIX)
        for name in ("list", "lookup", "match", "get", "list_callees", "count_callees"):
            dealer.add_builtin(PREFIX + name, getattr(self, name))
        dealer.add_listener(self)

    # -- procedures ---------------------------------------------------------------------------------
    def list(self, caller, args, kwargs) -> dict:
        return ids_by_match(self._dealer.registrations())

    def lookup(self, caller, args, kwargs) -> Optional[int]:
        """The id of the registration of exactly (procedure, options.match), or None."""
        procedure = uri_arg(args, kwargs, "procedure")
        reg = self._dealer.registrations().get(procedure, match_option(args, kwargs))
        return reg.id if reg is not None else None

    def match(self, caller, args, kwargs) -> Optional[int]:
        """The id of the registration a call to ``procedure`` would use, or None."""
        reg = self._dealer.registrations().match_best(uri_arg(args, kwargs, "procedure"))
        return reg.id if reg is not None else None

    def get(self, caller, args, kwargs) -> dict:
        reg = self._registration(args, kwargs)
        return describe(reg, invoke=reg.invoke)

    def list_callees(self, caller, args, kwargs) -> List:
        return [callee.info.id for callee in self._registration(args, kwargs).callees if not callee.remote]

    def count_callees(self, caller, args, kwargs) -> int:
        return len(self.list_callees(caller, args, kwargs))

    def _registration(self, args, kwargs):
        registration_id = id_arg(args, kwargs, "registration_id")
        reg = self._dealer.registration(registration_id)
        if reg is None:
            raise ApplicationError(ApplicationError.NO_SUCH_REGISTRATION, f"no registration {registration_id}")
        return reg

    # -- events (the dealer's listener) ---------------------------------------------------------------
    def registration_created(self, reg, session) -> None:
        if announced(reg.uri):
            self._events.created(session, describe(reg, invoke=reg.invoke))

    def callee_added(self, reg, session) -> None:
        if announced(reg.uri):
            self._events.joined(session, reg.id, "on_register")

    def callee_removed(self, reg, session) -> None:
        if announced(reg.uri):
            self._events.left(session, reg.id, "on_unregister")

    def registration_deleted(self, reg, session) -> None:
        if announced(reg.uri):
            self._events.deleted(session, reg.id)
