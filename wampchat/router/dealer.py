"""
The dealer: registrations, calls, invocations, progress, timeouts and cancel.

A call's lifecycle is one :class:`PendingCall`, indexed on the caller by its
CALL request id and on the callee by its INVOCATION request id, so YIELD,
ERROR, CANCEL, timeouts and either side leaving each find it in O(1).
"""
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from wampchat.router.authorize import TRUSTED
from wampchat.router.inprocess import LocalProcedure, as_error, as_yield
from wampchat.router.matching import MATCH_EXACT, PatternMap
from wampchat.router.outgoing import RoutedInvocation, RoutedResult
from wampchat.router.dealer_cluster import ClusterRegistrations
from wampchat.router.registrations import INVOKE_POLICIES, PendingCall, Registration

class Dealer(ClusterRegistrations):
    """Routes calls to registered callees and their answers back."""

    def __init__(self, realm, clock, metrics):
        self._realm = realm
        self._clock = clock
        self._metrics = metrics
        self._call_duration = metrics.call_duration
        self._map = PatternMap()
        self._by_id = {}
        self._builtins = {}
        self._ids = 0
        self.cluster = None  # a node's part in one router across nodes: claim(reg) -> Deferred, release(reg)
        self._listeners = []  # the registration meta API (see add_listener)

    def add_builtin(self, uri, fn):
        """A procedure answered by the router itself: ``fn(caller_info, args, kwargs)``."""
        self._builtins[uri] = fn

    # -- the registration meta API ------------------------------------------------------------------
    def add_listener(self, listener):
        """``listener.registration_created(reg, session)``, ``callee_added``, ``callee_removed`` and
        ``registration_deleted`` (same arguments) are called as registrations and their callees come and go;
        ``session`` may be a ``remote`` proxy for another node's callees, or None."""
        self._listeners.append(listener)

    def _tell(self, event, reg, session):
        for listener in self._listeners:
            getattr(listener, event)(reg, session)

    def registration(self, registration_id):
        """The registration with this id, or None."""
        return self._by_id.get(registration_id)

    def registrations(self):
        """Every registration, as a :class:`PatternMap` by (uri, match); read only."""
        return self._map

    # -- registrations --------------------------------------------------
    def register(self, session, uri, match, invoke):
        """Register ``session`` as callee; raises ApplicationError on conflicts."""
        invoke = invoke or "single"
        if invoke not in INVOKE_POLICIES:
            raise ApplicationError(ApplicationError.INVALID_ARGUMENT, f"unknown invoke policy {invoke!r}")
        if uri in self._builtins:
            raise ApplicationError(ApplicationError.PROCEDURE_ALREADY_EXISTS, f"{uri} is provided by the router")
        reg = self._map.get(uri, match)
        if reg is None:
            reg = self._new_registration(uri, match, invoke, session)
        elif reg.invoke != invoke:
            raise ApplicationError(
                ApplicationError.PROCEDURE_EXISTS_INVOCATION_POLICY_CONFLICT,
                f"{uri} is registered with invoke={reg.invoke}",
            )
        elif invoke == "single" or session in reg.callees or session in reg.pending:
            raise ApplicationError(ApplicationError.PROCEDURE_ALREADY_EXISTS, f"{uri} is already registered")
        session.registrations[reg.id] = reg
        if self.cluster is not None and session.info.authrole != TRUSTED and (
                reg.claim is not None or not reg.has_local_callee()):
            # the first callee of this node: the cluster must agree first (a single registration is unique
            # in the cluster); it gets no INVOCATION before it is told REGISTERED (see claimed)
            reg.pending.append(session)
            if reg.claim is None:
                reg.claim = []
                self.cluster.claim(reg).addBoth(self._claim_answered, reg)
        else:
            reg.callees.append(session)
            self._tell("callee_added", reg, session)
        return reg

    def _new_registration(self, uri, match, invoke, first):
        self._ids += 1
        reg = Registration(self._ids, uri, match, invoke)
        self._map.add(uri, match, reg)
        self._by_id[reg.id] = reg
        self._tell("registration_created", reg, first)
        return reg

    def register_local(self, session, uri, fn):
        """Register the in-process ``session``'s ``fn`` for exactly ``uri`` (see :mod:`wampchat.router.inprocess`)."""
        reg = self.register(session, uri, MATCH_EXACT, "single")
        reg.local = LocalProcedure(fn, reg.id, uri)
        return reg

    def unregister(self, session, registration_id):
        reg = session.registrations.pop(registration_id, None)
        if reg is None:
            return False
        self._drop(reg, session)
        return True

    def _drop(self, reg, session):
        if session in reg.pending:
            reg.pending.remove(session)   # the cluster's answer will find it gone
            return
        if session in reg.callees:
            reg.callees.remove(session)
            self._tell("callee_removed", reg, session)
            if self.cluster is not None and not session.remote and reg.local is None and reg.claim is None \
                    and not reg.has_local_callee():
                self.cluster.release(reg)
        if not reg.callees and not reg.pending:
            self._map.remove(reg.uri, reg.match)
            self._by_id.pop(reg.id, None)
            self._tell("registration_deleted", reg, session)

    def registration_count(self):
        return len(self._by_id)

    # -- calls ----------------------------------------------------------
    def call(self, caller, msg, local_only=False):
        """Route an authorized CALL from ``caller`` (``local_only``: to this node's callees, for a call another
        node routed here)."""
        self._metrics.calls.value += 1
        builtin = self._builtins.get(msg.procedure)
        if builtin is not None:
            self._call_builtin(caller, msg, builtin)
            return
        reg = self._map.match_best(msg.procedure)
        callee = reg.pick(local_only) if reg is not None and reg.callees else None
        if callee is None:
            caller.send_error(message.Call.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_PROCEDURE,
                              [f"no callee registered procedure {msg.procedure}"])
            return
        invocation_request = callee.request_ids.next()
        pending = PendingCall(caller, msg.request, callee, invocation_request, bool(msg.receive_progress),
                              self._clock.seconds(), reg.local is not None)
        caller.calls[msg.request] = pending
        callee.invocations[invocation_request] = pending
        if msg.timeout:
            pending.timer = self._clock.callLater(msg.timeout / 1000.0, self._timed_out, pending)
        if reg.local is not None:
            reg.local.invoke(msg, caller.info).addCallbacks(self._local_result, self._local_failure,
                                                            callbackArgs=(pending,),
                                                            errbackArgs=(pending, msg.procedure))
            return
        disclose = callee.info.authrole == TRUSTED or self._realm.authorizer.role_setting(
            caller.info.authrole, "disclose", True)
        if callee.remote:   # another node's callee: that node invokes it and answers like a callee
            callee.invoke(invocation_request, msg, reg, caller.info, disclose)
            return
        info = caller.info
        callee.send(RoutedInvocation(
            invocation_request, reg.id, msg.args, msg.kwargs, pending.receive_progress or None,
            info.id if disclose else None, info.authid if disclose else None, info.authrole if disclose else None,
            msg.procedure if reg.match != "exact" else None))

    def _call_builtin(self, caller, msg, fn):
        """A procedure of the router itself; its answer may be a Deferred (one that asks the other nodes)."""
        try:
            result = fn(caller.info, msg.args or [], msg.kwargs or {})
        except ApplicationError as e:
            caller.send_error(message.Call.MESSAGE_TYPE, msg.request, e.error, list(e.args), e.kwargs)
            return
        if isinstance(result, defer.Deferred):
            result.addCallbacks(lambda value: caller.send(RoutedResult(msg.request, args=[value])),
                                lambda failure: self._builtin_failed(caller, msg, failure))
            return
        caller.send(RoutedResult(msg.request, args=[result]))

    def _builtin_failed(self, caller, msg, failure):
        error = failure.value if isinstance(failure.value, ApplicationError) else None
        if error is None:
            self._realm.log.failure("router procedure {uri} failed", failure, uri=msg.procedure)
            error = ApplicationError("wamp.error.runtime_error", f"{msg.procedure} failed")
        caller.send_error(message.Call.MESSAGE_TYPE, msg.request, error.error, list(error.args), error.kwargs)

    def builtin(self, uri):
        """The router's own procedure ``uri`` (None when there is none): what a cluster-wide one wraps."""
        return self._builtins.get(uri)

    def on_yield(self, callee, msg):
        pending = callee.invocations.get(msg.request)
        if pending is None:
            return  # answer to a call that was canceled or timed out: dropped by design
        if msg.progress:
            if pending.receive_progress and pending.canceled is None:
                pending.caller.send(RoutedResult(pending.call_request, args=msg.args, kwargs=msg.kwargs, progress=True))
            return
        self._yielded(pending, msg.args, msg.kwargs)

    def on_error(self, callee, msg):
        pending = callee.invocations.get(msg.request)
        if pending is None:
            return
        self._errored(pending, msg.error, msg.args, msg.kwargs)

    def _yielded(self, pending, args, kwargs):
        self._finish(pending)
        if pending.canceled in (None, "kill"):  # after kill the caller still waits for this answer
            self._answered(pending)
            pending.caller.send(RoutedResult(pending.call_request, args=args, kwargs=kwargs))

    def _errored(self, pending, error, args, kwargs):
        self._finish(pending)
        if pending.canceled in (None, "kill"):
            self._answered(pending)
            if pending.canceled == "kill":
                error = ApplicationError.CANCELED
            pending.caller.send_error(message.Call.MESSAGE_TYPE, pending.call_request, error, args, kwargs)

    def _still_waiting(self, pending):
        """Is this call still open on its callee (not timed out, canceled or left)?"""
        return pending.callee.invocations.get(pending.invocation_request) is pending

    def _local_result(self, result, pending):
        if self._still_waiting(pending):
            args, kwargs = as_yield(result)
            self._yielded(pending, args, kwargs)

    def _local_failure(self, failure, pending, procedure):
        if not isinstance(failure.value, ApplicationError):
            self._metrics.errors.value += 1
            self._realm.log.failure("in-process procedure {uri} failed", failure, uri=procedure)
        if self._still_waiting(pending):
            error, args, kwargs = as_error(failure.value)
            self._errored(pending, error, args, kwargs)

    def cancel(self, caller, msg):
        """CANCEL from the caller: skip, kill (default) or killnowait."""
        pending = caller.calls.get(msg.request)
        if pending is None or pending.canceled is not None:
            return
        mode = msg.mode or "kill"
        if not pending.can_interrupt():  # a callee that did not announce call_canceling never gets INTERRUPT
            mode = "skip"
        pending.canceled = mode
        if mode != "skip":
            pending.callee.send(message.Interrupt(pending.invocation_request, mode=mode))
        if mode != "kill":
            self._finish(pending)
            self._answered(pending)
            caller.send_error(message.Call.MESSAGE_TYPE, pending.call_request, ApplicationError.CANCELED,
                              [f"call canceled ({mode})"])

    def _timed_out(self, pending):
        pending.timer = None
        self._finish(pending)
        pending.canceled = "timeout"
        self._answered(pending)
        if pending.can_interrupt():
            pending.callee.send(message.Interrupt(pending.invocation_request, mode="killnowait",
                                                  reason=ApplicationError.TIMEOUT))
        pending.caller.send_error(message.Call.MESSAGE_TYPE, pending.call_request, ApplicationError.TIMEOUT,
                                  ["call timed out"])

    def _answered(self, pending):
        """The caller is getting its final RESULT or ERROR now: record how long the call took."""
        self._call_duration.observe(max(0.0, self._clock.seconds() - pending.started))

    def _finish(self, pending):
        pending.caller.calls.pop(pending.call_request, None)
        pending.callee.invocations.pop(pending.invocation_request, None)
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None

    # -- sessions leaving -----------------------------------------------
    def detach(self, session):
        for reg in list(session.registrations.values()):
            self._drop(reg, session)
        session.registrations.clear()
        for pending in list(session.invocations.values()):
            self._finish(pending)
            if pending.canceled in (None, "kill"):  # a killed call still waits for its callee
                self._answered(pending)
                pending.caller.send_error(message.Call.MESSAGE_TYPE, pending.call_request,
                                          ApplicationError.CANCELED, ["the callee left before answering"])
        for pending in list(session.calls.values()):
            self._finish(pending)
            if pending.can_interrupt():
                pending.callee.send(message.Interrupt(pending.invocation_request, mode="killnowait"))
