"""
The dealer's part in one router across nodes: registrations the cluster must agree to before REGISTERED, and
other nodes' callees (proxies, ``remote`` true) among a registration's callees. A base of
:class:`~wampchat.router.dealer.Dealer`; the cluster itself (``cluster``: claim, release) is
:mod:`wampchat.cluster.registry`.
"""
from typing import Any, Dict

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.python.failure import Failure


class ClusterRegistrations:
    """Claims and remote callees; uses the Dealer's map, ids and ``cluster``."""

    _by_id: Dict[int, Any]   # the Dealer's registrations by id

    def claimed(self, reg, session):
        """None when ``session``'s registration holds already; else a Deferred firing once the cluster agreed
        (``session`` is then a callee) or failing with the ApplicationError to answer REGISTER with."""
        if session not in reg.pending:
            return None
        d = defer.Deferred()
        reg.claim.append(d)
        return d

    def _claim_answered(self, result, reg):
        waiting, reg.claim = reg.claim or [], None
        pending, reg.pending = reg.pending, []
        if isinstance(result, Failure):
            error = result.value if isinstance(result.value, ApplicationError) else ApplicationError(
                ApplicationError.PROCEDURE_ALREADY_EXISTS, f"{reg.uri} is registered on another node")
            for session in pending:
                session.registrations.pop(reg.id, None)
            if not reg.callees:
                self._map.remove(reg.uri, reg.match)
                self._by_id.pop(reg.id, None)
                self._tell("registration_deleted", reg, pending[0] if pending else None)
            for d in waiting:
                d.errback(error)
            return None
        for session in pending:
            if reg.id in session.registrations:   # still registered (it may have left meanwhile)
                reg.callees.append(session)
                self._tell("callee_added", reg, session)
        if pending and not reg.has_local_callee():
            self.cluster.release(reg)   # every waiting session left before the answer
        for d in waiting:
            d.callback(reg)
        return None

    def client_registrations(self) -> list:
        """The registrations that have callees among this node's client sessions (not in-process services)."""
        return [reg for reg in self._by_id.values() if reg.local is None and reg.has_local_callee()]

    # -- other nodes' callees (one router across nodes) ----------------------------------------------
    def add_remote(self, proxy, uri, match, invoke):
        """``proxy`` (another node's callees) takes calls to (uri, match) too; False on a policy conflict."""
        reg = self._map.get(uri, match)
        if reg is None:
            reg = self._new_registration(uri, match, invoke, proxy)
        elif reg.invoke != invoke or reg.local is not None:
            return False
        if proxy not in reg.callees:
            reg.callees.append(proxy)
            proxy.registrations[reg.id] = reg
            self._tell("callee_added", reg, proxy)
        return True

    def remove_remote(self, proxy, uri, match):
        reg = self._map.get(uri, match)
        if reg is not None and proxy.registrations.pop(reg.id, None) is not None:
            self._drop(reg, proxy)
