"""
The dealer: registrations, calls, invocations, progress, timeouts and cancel.

A call's lifecycle is one :class:`PendingCall`, indexed on the caller by its
CALL request id and on the callee by its INVOCATION request id, so YIELD,
ERROR, CANCEL, timeouts and either side leaving each find it in O(1).
"""
import random

from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError

from wampchat.router.authorize import TRUSTED
from wampchat.router.inprocess import LocalProcedure, as_error, as_yield
from wampchat.router.matching import MATCH_EXACT, PatternMap

INVOKE_POLICIES = ("single", "roundrobin", "random", "first", "last")
CANCEL_MODES = ("skip", "kill", "killnowait")


class Registration:
    """One (uri, match) and its callee(s), invoked by ``invoke`` policy."""

    __slots__ = ("id", "uri", "match", "invoke", "callees", "pattern_parts", "local", "_next")

    def __init__(self, registration_id, uri, match, invoke):
        self.id = registration_id
        self.uri = uri
        self.match = match
        self.invoke = invoke
        self.callees = []
        self.pattern_parts = None
        self.local = None  # a LocalProcedure: an in-process service's function, called without INVOCATION
        self._next = 0

    def pick(self):
        if self.invoke == "roundrobin":
            callee = self.callees[self._next % len(self.callees)]
            self._next = (self._next + 1) % len(self.callees)
            return callee
        if self.invoke == "random":
            return random.choice(self.callees)
        if self.invoke == "last":
            return self.callees[-1]
        return self.callees[0]


class PendingCall:
    """A call between its CALL and its final RESULT or ERROR."""

    __slots__ = ("caller", "call_request", "callee", "invocation_request", "receive_progress",
                 "timer", "canceled", "started", "local")

    def __init__(self, caller, call_request, callee, invocation_request, receive_progress, started, local=False):
        self.caller = caller
        self.call_request = call_request
        self.callee = callee
        self.invocation_request = invocation_request
        self.receive_progress = receive_progress
        self.timer = None
        self.canceled = None
        self.started = started  # clock.seconds() at CALL, for wampchat_call_duration_seconds
        self.local = local      # invoked as a function call (direct routes): never interrupted

    def can_interrupt(self):
        """May the callee be sent INTERRUPT? Only when it announced call_canceling."""
        return not self.local and supports(self.callee, "callee", "call_canceling")


def supports(session, role, feature):
    """Did the peer announce ``feature`` for ``role`` in its HELLO?"""
    features = session.roles.get(role) if session.roles else None
    return bool(getattr(features, feature, False)) if features is not None else False


class Dealer:
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

    def add_builtin(self, uri, fn):
        """A procedure answered by the router itself: ``fn(caller_info, args, kwargs)``."""
        self._builtins[uri] = fn

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
            self._ids += 1
            reg = Registration(self._ids, uri, match, invoke)
            self._map.add(uri, match, reg)
            self._by_id[reg.id] = reg
        elif reg.invoke != invoke:
            raise ApplicationError(
                ApplicationError.PROCEDURE_EXISTS_INVOCATION_POLICY_CONFLICT,
                f"{uri} is registered with invoke={reg.invoke}",
            )
        elif invoke == "single" or session in reg.callees:
            raise ApplicationError(ApplicationError.PROCEDURE_ALREADY_EXISTS, f"{uri} is already registered")
        reg.callees.append(session)
        session.registrations[reg.id] = reg
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
        if session in reg.callees:
            reg.callees.remove(session)
        if not reg.callees:
            self._map.remove(reg.uri, reg.match)
            self._by_id.pop(reg.id, None)

    def registration_count(self):
        return len(self._by_id)

    # -- calls ----------------------------------------------------------
    def call(self, caller, msg):
        """Route an authorized CALL from ``caller``."""
        self._metrics.calls.value += 1
        builtin = self._builtins.get(msg.procedure)
        if builtin is not None:
            self._call_builtin(caller, msg, builtin)
            return
        reg = self._map.match_best(msg.procedure)
        if reg is None:
            caller.send_error(message.Call.MESSAGE_TYPE, msg.request, ApplicationError.NO_SUCH_PROCEDURE,
                              [f"no callee registered procedure {msg.procedure}"])
            return
        callee = reg.pick()
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
        callee.send(message.Invocation(
            invocation_request,
            reg.id,
            args=msg.args,
            kwargs=msg.kwargs,
            receive_progress=pending.receive_progress or None,
            caller=caller.info.id if disclose else None,
            caller_authid=caller.info.authid if disclose else None,
            caller_authrole=caller.info.authrole if disclose else None,
            procedure=msg.procedure if reg.match != "exact" else None,
        ))

    def _call_builtin(self, caller, msg, fn):
        try:
            result = fn(caller.info, msg.args or [], msg.kwargs or {})
        except ApplicationError as e:
            caller.send_error(message.Call.MESSAGE_TYPE, msg.request, e.error, list(e.args), e.kwargs)
        else:
            caller.send(message.Result(msg.request, args=[result]))

    def on_yield(self, callee, msg):
        pending = callee.invocations.get(msg.request)
        if pending is None:
            return  # answer to a call that was canceled or timed out: dropped by design
        if msg.progress:
            if pending.receive_progress and pending.canceled is None:
                pending.caller.send(message.Result(pending.call_request, args=msg.args, kwargs=msg.kwargs,
                                                   progress=True))
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
            pending.caller.send(message.Result(pending.call_request, args=args, kwargs=kwargs))

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
