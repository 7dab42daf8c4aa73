"""Dealer over real sockets: matching, disclosure, progress, timeout, cancel, shared registrations, errors."""
import pytest
import pytest_twisted
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, RegisterOptions
from twisted.internet import defer

from helpers import poll_until

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SERIALIZERS = ["json", "msgpack", "cbor"]
TRANSPORTS = [pytest.param(s, False, id=f"ws-{s}") for s in SERIALIZERS] + [
    pytest.param("json", True, id="rs-json"),
    pytest.param("msgpack", True, id="rs-msgpack"),
]


@defer.inlineCallbacks
def call_error(session, procedure, *args, **kwargs):
    """Call and return the ApplicationError it fails with (fails the test if it succeeds)."""
    try:
        result = yield session.call(procedure, *args, **kwargs)
    except ApplicationError as e:
        return e
    raise AssertionError(f"{procedure} returned {result!r} instead of failing")


@defer.inlineCallbacks
def sequential_calls(session, procedure, count):
    """Call ``procedure`` ``count`` times, one after the other; Deferred of the results."""
    results = []
    for _ in range(count):
        results.append((yield session.call(procedure)))
    return results


def within(d, seconds=10):
    """Bound a wait: ``d`` fails with TimeoutError instead of hanging the test."""
    from twisted.internet import reactor

    return d.addTimeout(seconds, reactor)


def request_id_of(session, d):
    """The CALL request id behind the Deferred ``d`` that ``session.call`` returned."""
    for rid, req in session._call_reqs.items():
        if req.on_reply is d:
            return rid
    raise AssertionError("no pending call for that Deferred")


class Stalled:
    """A procedure whose answers the test controls; records invocations and cancellations."""

    def __init__(self):
        self.pending = []
        self.cancelled = []
        self.invoked = defer.Deferred()

    def __call__(self, *args, **kwargs):
        d = defer.Deferred(lambda d: self.cancelled.append(args))
        self.pending.append(d)
        if not self.invoked.called:
            self.invoked.callback(args)
        return d


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_exact_registration_with_caller_disclosure(join, serializer, rawsocket):
    """An exact registration answers calls and sees the caller's session id and authid."""
    callee = yield join(serializer, rawsocket)
    caller = yield join(serializer, rawsocket, authextra={"nick": "Bob"})
    seen = []

    def add(x, y, details=None):
        seen.append(details)
        return x + y

    yield callee.register(add, "app.rpc.add", options=RegisterOptions(details_arg="details"))
    result = yield caller.call("app.rpc.add", 2, 40)
    assert result == 42
    assert seen[0].caller == caller.details.session
    assert seen[0].caller_authid == caller.details.authid
    assert seen[0].procedure in (None, "app.rpc.add")


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_prefix_and_wildcard_registrations_report_the_procedure(join, serializer):
    """Prefix and wildcard registrations get details.procedure; exact beats prefix beats wildcard."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    opts = dict(details_arg="details")
    yield callee.register(lambda details=None: ("prefix", details.procedure), "app.rpc.p.",
                          options=RegisterOptions(match="prefix", **opts))
    yield callee.register(lambda details=None: ("wildcard", details.procedure), "app.rpc..w",
                          options=RegisterOptions(match="wildcard", **opts))
    yield callee.register(lambda details=None: ("exact", None), "app.rpc.p.exact", options=RegisterOptions(**opts))

    assert (yield caller.call("app.rpc.p.one.two")) == ["prefix", "app.rpc.p.one.two"]
    assert (yield caller.call("app.rpc.x.w")) == ["wildcard", "app.rpc.x.w"]
    assert (yield caller.call("app.rpc.p.exact")) == ["exact", None]
    assert (yield caller.call("app.rpc.p.w")) == ["prefix", "app.rpc.p.w"]  # prefix beats wildcard
    err = yield call_error(caller, "app.rpc.x.y.w")
    assert err.error == "wamp.error.no_such_procedure"


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_progressive_results(join, serializer, rawsocket):
    """A callee's progressive results reach the caller's on_progress in order before the final result."""
    callee = yield join(serializer, rawsocket)
    caller = yield join(serializer, rawsocket)

    def count(n, details=None):
        assert details.progress is not None
        for i in range(n):
            details.progress(i, step=i)
        return "done"

    yield callee.register(count, "app.rpc.count", options=RegisterOptions(details_arg="details"))
    progress = []
    result = yield caller.call("app.rpc.count", 5,
                               options=CallOptions(on_progress=lambda *a, **k: progress.append((a, k))))
    assert result == "done"
    assert progress == [((i,), {"step": i}) for i in range(5)]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_progress_not_requested_gives_only_the_final_result(join, serializer):
    """Without on_progress the callee sees no progress callback and the caller gets just the result."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    yield callee.register(lambda details=None: details.progress is None, "app.rpc.noprogress",
                          options=RegisterOptions(details_arg="details"))
    assert (yield caller.call("app.rpc.noprogress")) is True


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_call_timeout(join, serializer):
    """A call with timeout (ms) to a callee that never answers fails with wamp.error.timeout and interrupts it."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    stalled = Stalled()
    yield callee.register(stalled, "app.rpc.stall")
    err = yield call_error(caller, "app.rpc.stall", "t", options=CallOptions(timeout=150))
    assert err.error == "wamp.error.timeout"
    yield poll_until(lambda: stalled.cancelled == [("t",)], timeout=5)
    # the session carries on
    yield callee.register(lambda: "ok", "app.rpc.after")
    assert (yield caller.call("app.rpc.after")) == "ok"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_cancel_kill_via_deferred_cancel(join, serializer):
    """Cancelling the caller's Deferred sends CANCEL (kill): the callee is interrupted and the call ends."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    stalled = Stalled()
    yield callee.register(stalled, "app.rpc.stall")
    d = caller.call("app.rpc.stall", "k")
    yield within(stalled.invoked)
    d.cancel()
    with pytest.raises(defer.CancelledError):
        yield within(d)
    yield poll_until(lambda: stalled.cancelled == [("k",)], timeout=5)
    yield poll_until(lambda: not caller._call_reqs, timeout=5)  # the router's ERROR closed the request


@pytest.mark.parametrize("mode", ["skip", "kill", "killnowait"])
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_cancel_modes(join, serializer, mode):
    """CANCEL with mode skip/kill/killnowait fails the call with wamp.error.canceled; only kill modes interrupt."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    stalled = Stalled()
    yield callee.register(stalled, "app.rpc.stall")
    d = caller.call("app.rpc.stall", mode)
    yield within(stalled.invoked)
    caller._transport.send(message.Cancel(request_id_of(caller, d), mode=mode))
    with pytest.raises(ApplicationError) as info:
        yield within(d)
    assert info.value.error == "wamp.error.canceled"
    if mode == "skip":
        # the callee was not told; its late answer is dropped and it can still serve calls
        stalled.pending[0].callback("late")
        yield callee.register(lambda: "alive", "app.rpc.alive")
        assert (yield caller.call("app.rpc.alive")) == "alive"
        assert stalled.cancelled == []
    else:
        yield poll_until(lambda: stalled.cancelled == [(mode,)], timeout=5)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_single_registration_refuses_a_second_callee(join, serializer):
    """A second register of a single-invoke procedure fails with wamp.error.procedure_already_exists."""
    a = yield join(serializer)
    b = yield join(serializer)
    yield a.register(lambda: "a", "app.rpc.single")
    with pytest.raises(ApplicationError) as info:
        yield b.register(lambda: "b", "app.rpc.single")
    assert info.value.error == "wamp.error.procedure_already_exists"
    assert (yield b.call("app.rpc.single")) == "a"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_shared_registration_policies(join, serializer):
    """roundrobin cycles, first/last pick the oldest/newest callee, random spreads; mixing policies conflicts."""
    callees = []
    for _ in range(3):
        callees.append((yield join(serializer)))
    caller = yield join(serializer)
    for policy in ("roundrobin", "random", "first", "last"):
        for i, c in enumerate(callees):
            yield c.register(lambda i=i: i, f"app.rpc.{policy}", options=RegisterOptions(invoke=policy))

    rr = yield sequential_calls(caller, "app.rpc.roundrobin", 6)
    assert rr == [0, 1, 2, 0, 1, 2]
    assert (yield sequential_calls(caller, "app.rpc.first", 3)) == [0, 0, 0]
    assert (yield sequential_calls(caller, "app.rpc.last", 3)) == [2, 2, 2]
    rnd = yield defer.gatherResults([caller.call("app.rpc.random") for _ in range(60)])
    assert set(rnd) <= {0, 1, 2} and len(set(rnd)) > 1  # all-the-same has probability 3**-59

    with pytest.raises(ApplicationError) as info:
        yield caller.register(lambda: "x", "app.rpc.roundrobin", options=RegisterOptions(invoke="random"))
    assert info.value.error == "wamp.error.procedure_exists_with_different_invocation_policy"
    with pytest.raises(ApplicationError) as info:
        yield caller.register(lambda: "x", "app.rpc.roundrobin")  # single vs roundrobin
    assert info.value.error == "wamp.error.procedure_exists_with_different_invocation_policy"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_roundrobin_skips_a_callee_that_left(join, serializer):
    """When one callee of a shared registration leaves, calls go to the others."""
    a = yield join(serializer)
    b = yield join(serializer)
    caller = yield join(serializer)
    yield a.register(lambda: "a", "app.rpc.rr", options=RegisterOptions(invoke="roundrobin"))
    yield b.register(lambda: "b", "app.rpc.rr", options=RegisterOptions(invoke="roundrobin"))
    yield a.leave()
    yield a.left
    results = yield sequential_calls(caller, "app.rpc.rr", 3)
    assert results == ["b", "b", "b"]


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_callee_leaving_fails_pending_calls(join, serializer, rawsocket):
    """Calls pending on a callee that disconnects fail with wamp.error.canceled."""
    callee = yield join(serializer, rawsocket)
    caller = yield join(serializer, rawsocket)
    stalled = Stalled()
    yield callee.register(stalled, "app.rpc.stall")
    d1 = caller.call("app.rpc.stall", 1)
    d2 = caller.call("app.rpc.stall", 2)
    yield poll_until(lambda: len(stalled.pending) == 2, timeout=5)
    callee._transport.close()
    for d in (d1, d2):
        with pytest.raises(ApplicationError) as info:
            yield within(d)
        assert info.value.error == "wamp.error.canceled"
    err = yield call_error(caller, "app.rpc.stall")
    assert err.error == "wamp.error.no_such_procedure"


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_unknown_procedure(join, serializer, rawsocket):
    """Calling a procedure nobody registered fails with wamp.error.no_such_procedure."""
    caller = yield join(serializer, rawsocket)
    err = yield call_error(caller, "app.rpc.nobody")
    assert err.error == "wamp.error.no_such_procedure"


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_application_error_reaches_the_caller(join, serializer, rawsocket):
    """A callee raising ApplicationError gives the caller that error URI, args and kwargs."""
    callee = yield join(serializer, rawsocket)
    caller = yield join(serializer, rawsocket)

    def fail(x):
        raise ApplicationError("app.error.bad_thing", "bad", x, code=7)

    yield callee.register(fail, "app.rpc.fail")
    err = yield call_error(caller, "app.rpc.fail", 3)
    assert err.error == "app.error.bad_thing"
    assert err.args == ("bad", 3)
    assert err.kwargs == {"code": 7}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_unregister(join, serializer):
    """After unregistering, the procedure is gone and another session may register it."""
    a = yield join(serializer)
    b = yield join(serializer)
    reg = yield a.register(lambda: "a", "app.rpc.unreg")
    assert (yield b.call("app.rpc.unreg")) == "a"
    yield reg.unregister()
    err = yield call_error(b, "app.rpc.unreg")
    assert err.error == "wamp.error.no_such_procedure"
    yield b.register(lambda: "b", "app.rpc.unreg")
    assert (yield a.call("app.rpc.unreg")) == "b"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_caller_leaving_interrupts_the_callee(join, serializer):
    """When a caller disconnects with a call in flight, the callee is interrupted and keeps serving others."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    other = yield join(serializer)
    stalled = Stalled()
    yield callee.register(stalled, "app.rpc.stall")
    d = caller.call("app.rpc.stall", "gone")
    d.addErrback(lambda _: None)
    yield within(stalled.invoked)
    caller._transport.transport.abortConnection()
    yield poll_until(lambda: stalled.cancelled == [("gone",)], timeout=5)
    yield callee.register(lambda: "still here", "app.rpc.here")
    assert (yield other.call("app.rpc.here")) == "still here"


def ignore_interrupts(session):
    """Make an Autobahn callee deaf to INTERRUPT, like a callee busy in code that cannot be stopped."""
    original = session.onMessage
    session.onMessage = lambda msg: None if isinstance(msg, message.Interrupt) else original(msg)


@defer.inlineCallbacks
def killed_call(join, serializer):
    """A call whose deaf callee stalls, canceled with mode kill; returns (callee, caller, stalled, call)."""
    callee = yield join(serializer)
    caller = yield join(serializer)
    stalled = Stalled()
    ignore_interrupts(callee)
    yield callee.register(stalled, "app.rpc.stall")
    d = caller.call("app.rpc.stall", "k")
    yield within(stalled.invoked)
    caller._transport.send(message.Cancel(request_id_of(caller, d), mode="kill"))
    return callee, caller, stalled, d


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_kill_answered_by_a_result(join, serializer):
    """With cancel mode kill, a callee that finishes anyway still ends the call: the caller is not left hanging."""
    callee, caller, stalled, d = yield killed_call(join, serializer)
    # a round trip through the router so the CANCEL is processed before the answer
    assert (yield call_error(caller, "app.nobody")).error == "wamp.error.no_such_procedure"
    stalled.pending[0].callback("finished anyway")
    try:
        result = yield within(d)
    except ApplicationError as e:
        assert e.error == "wamp.error.canceled"
    else:
        assert result == "finished anyway"
    assert not caller._call_reqs


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_kill_then_callee_leaves(join, serializer):
    """With cancel mode kill, a callee that leaves without answering fails the call with wamp.error.canceled."""
    callee, caller, stalled, d = yield killed_call(join, serializer)
    assert (yield call_error(caller, "app.nobody")).error == "wamp.error.no_such_procedure"  # CANCEL processed
    callee._transport.close()
    with pytest.raises(ApplicationError) as info:
        yield within(d)
    assert info.value.error == "wamp.error.canceled"
