"""What the dealer keeps: registrations and their callees, and the calls between CALL and the final answer.

A callee is a session of this node or, in a cluster, a proxy for another
node's callees (``remote`` true); both take INVOCATION and INTERRUPT the
same way, so the dealer routes a call without knowing where its callee is.
"""
import random
import time

INVOKE_POLICIES = ("single", "roundrobin", "random", "first", "last")
CANCEL_MODES = ("skip", "kill", "killnowait")


class Registration:
    """One (uri, match) and its callee(s), invoked by ``invoke`` policy."""

    __slots__ = ("id", "uri", "match", "invoke", "callees", "pattern_parts", "local", "_next", "pending", "claim",
                 "created")

    def __init__(self, registration_id, uri, match, invoke):
        self.id = registration_id
        self.uri = uri
        self.match = match
        self.invoke = invoke
        self.callees = []
        self.pattern_parts = None
        self.local = None  # a LocalProcedure: an in-process service's function, called without INVOCATION
        self._next = 0
        self.pending = []  # sessions whose REGISTER waits for the cluster's answer (see Dealer.register)
        self.claim = None  # while the cluster is asked: the Deferreds waiting for its answer
        self.created = time.time()  # for the registration meta API (wall clock, like its ISO 8601 answer)

    def pick(self, local_only=False):
        """The callee for the next call by the ``invoke`` policy; with ``local_only`` among this node's own
        callees only (a call another node routed here), None when there is none."""
        callees = self.callees
        if local_only:
            callees = [c for c in callees if not c.remote]
            if not callees:
                return None
        if self.invoke == "roundrobin":
            callee = callees[self._next % len(callees)]
            self._next = (self._next + 1) % len(callees)
            return callee
        if self.invoke == "random":
            return random.choice(callees)
        if self.invoke == "last":
            return callees[-1]
        return callees[0]

    def has_local_callee(self):
        return any(not c.remote for c in self.callees)


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
