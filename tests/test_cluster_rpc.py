"""One router across nodes (API §10): a procedure registered on one node is called from every node."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallDetails, CallOptions, PublishOptions, RegisterOptions, SubscribeOptions
from twisted.internet import defer

from chatkit import PASSWORD, error_of
from cluster import cluster  # noqa: F401 (fixture)
from helpers import poll_until
from rabbitmq import bridge_of, rabbitmq  # noqa: F401 (fixture)
from processes import processes  # noqa: F401 (fixture)
from test_cluster_broker_restart import restart_broker
from test_cluster_failover import start_process
from twisted.internet import reactor
from wampchat.testing import connect

pytestmark = [pytest.mark.rabbitmq]


async def three(cluster):
    for node in ("na", "nb", "nc"):
        await cluster.node(node)
    for name in ("ann", "bob", "cid"):
        await cluster.register("na", name)


async def callable_from(session, procedure, *args, **kwargs):
    """Poll until ``procedure`` answers on ``session``'s node (other nodes learn of it within a second)."""
    answers = []

    async def answered():
        try:
            answers.append(await session.call(procedure, *args, **kwargs))
            return True
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure":
                raise
            return False
    await poll_until(answered, timeout=10)
    return answers[-1]


@pytest_twisted.ensureDeferred
async def test_a_call_from_any_node_reaches_a_callee_on_another(cluster):
    await three(cluster)
    callee, caller = await cluster.user("na", "ann"), await cluster.user("nc", "bob")
    seen = []

    def add(a, b, details: CallDetails = None):
        seen.append(details.caller_authid)
        return a + b
    await callee.register(add, "app.add", options=RegisterOptions(details_arg="details"))
    assert await callable_from(caller, "app.add", 2, 3) == 5
    assert seen[-1] == "bob"                           # caller disclosure crosses nodes
    assert await caller.call("app.add", 40, 2) == 42


@pytest_twisted.ensureDeferred
async def test_a_single_registration_is_unique_in_the_cluster(cluster):
    await three(cluster)
    first, second = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    await first.register(lambda: "first", "app.only")
    with pytest.raises(ApplicationError) as refused:
        await second.register(lambda: "second", "app.only")
    assert refused.value.error == "wamp.error.procedure_already_exists"
    with pytest.raises(ApplicationError) as conflict:
        await second.register(lambda: "second", "app.only", options=RegisterOptions(invoke="roundrobin"))
    assert conflict.value.error in ("wamp.error.procedure_already_exists",
                                    "wamp.error.procedure_exists_with_different_invocation_policy")
    # once the first unregisters, another node may take it (as soon as it has seen the first one go)
    for registration in list(first._registrations.values()):
        await registration.unregister()

    async def taken():
        try:
            await second.register(lambda: "second", "app.only")
            return True
        except ApplicationError as e:
            assert e.error == "wamp.error.procedure_already_exists"
            return False
    await poll_until(taken, timeout=10)
    caller = await cluster.user("nc", "cid")
    assert await callable_from(caller, "app.only") == "second"


@pytest_twisted.ensureDeferred
async def test_shared_registrations_choose_among_the_callees_of_every_node(cluster):
    await three(cluster)
    served = []
    for node, name in (("na", "ann"), ("nb", "bob")):
        session = await cluster.user(node, name)
        await session.register(lambda who=name: served.append(who) or who, "app.work",
                               options=RegisterOptions(invoke="roundrobin"))
    caller = await cluster.user("nc", "cid")
    await callable_from(caller, "app.work")

    async def both_served():
        await caller.call("app.work")
        return {"ann", "bob"} <= set(served)
    await poll_until(both_served, timeout=10)


@pytest_twisted.ensureDeferred
async def test_errors_progress_timeouts_and_cancel_cross_nodes(cluster):
    await three(cluster)
    callee, caller = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    interrupted = []

    def fail(n):
        raise ApplicationError("app.error.bad_input", f"no {n}", n, hint="try 1")

    async def count(n, details: CallDetails = None):
        for i in range(n):
            details.progress(i)
        return n

    def hang():
        d = defer.Deferred(lambda _: interrupted.append(True))
        return d
    await callee.register(fail, "app.fail")
    await callee.register(count, "app.count", options=RegisterOptions(details_arg="details"))
    await callee.register(hang, "app.hang")
    await callable_from(caller, "app.count", 0)
    with pytest.raises(ApplicationError) as error:
        await caller.call("app.fail", 7)
    assert (error.value.error, error.value.args, error.value.kwargs) == ("app.error.bad_input", ("no 7", 7),
                                                                          {"hint": "try 1"})
    progress = []
    assert await caller.call("app.count", 3, options=CallOptions(on_progress=progress.append)) == 3
    assert progress == [0, 1, 2]
    assert await error_of(caller.call("app.hang", options=CallOptions(timeout=300))) == "wamp.error.timeout"
    await poll_until(lambda: interrupted, timeout=5)
    call = caller.call("app.hang")
    await poll_until(lambda: len(interrupted) == 1 and callee._invocations, timeout=5)
    call.cancel()
    await poll_until(lambda: len(interrupted) == 2, timeout=5)


@pytest_twisted.ensureDeferred
async def test_a_callee_node_that_stops_takes_its_registrations_and_ends_calls_in_flight(cluster):
    await three(cluster)
    callee, caller = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    await callee.register(lambda: defer.Deferred(), "app.forever")
    await callee.register(lambda: "here", "app.here")
    await callable_from(caller, "app.here")
    in_flight = caller.call("app.forever")
    await poll_until(lambda: callee._invocations, timeout=5)
    await cluster.nodes.pop("na").stop()
    assert await error_of(in_flight) == "wamp.error.canceled"
    await poll_until(lambda: error_of(caller.call("app.here")).addCallback(
        lambda e: e == "wamp.error.no_such_procedure"), timeout=20)


@pytest_twisted.ensureDeferred
async def test_a_broker_restart_ends_calls_in_flight_with_an_error_and_calls_work_after_it(cluster, rabbitmq):
    await cluster.node("na")
    await cluster.node("nb")
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    callee, caller = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    await callee.register(lambda: defer.Deferred(), "app.forever")
    await callee.register(lambda: "here", "app.here")
    await callable_from(caller, "app.here")
    in_flight = caller.call("app.forever")
    await poll_until(lambda: callee._invocations, timeout=5)

    async def while_down():
        assert await error_of(in_flight) == "wamp.error.canceled"
    await restart_broker(rabbitmq, while_down)
    await poll_until(lambda: all(bridge_of(n).link.state == "connected" for n in cluster.nodes.values()), timeout=30)
    assert await callable_from(caller, "app.here") == "here"


@pytest_twisted.ensureDeferred
async def test_retained_events_and_testaments_are_the_clusters(cluster):
    """A retained event published on A reaches a subscriber on B that asks for it; a session on A that drops
    without GOODBYE has its testament published to a subscriber on B."""
    await cluster.node("na")
    await cluster.node("nb")
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    ann, bob = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    await ann.publish("app.state", "v2", options=PublishOptions(retain=True, acknowledge=True))
    got = []

    async def retained_given():   # the retained event is written to the database right after PUBLISHED
        subscription = await bob.subscribe(lambda *a, **kw: got.append(a), "app.state",
                                           options=SubscribeOptions(get_retained=True))
        await poll_until(lambda: got, timeout=1).addErrback(lambda f: None)
        await subscription.unsubscribe()
        return bool(got)
    await poll_until(retained_given, timeout=10)
    assert got == [("v2",)]
    gone = []
    await bob.subscribe(lambda *a, **kw: gone.append(a), "app.gone")
    await ann.call("wamp.session.add_testament", "app.gone", ["ann dropped"], {})
    ann._transport.dropConnection()                  # no GOODBYE
    await poll_until(lambda: gone, timeout=10)
    assert gone == [("ann dropped",)]


@pytest_twisted.ensureDeferred
async def test_event_history_is_read_on_any_node(cluster):
    """--event-history app.news:2 on every node: what a session on A published is read on B, newest first."""
    await cluster.node("na", "--event-history", "app.news:2")
    await cluster.node("nb", "--event-history", "app.news:2")
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    ann, bob = await cluster.user("na", "ann"), await cluster.user("nb", "bob")
    for n in range(3):
        await ann.publish("app.news", n, options=PublishOptions(acknowledge=True))
    sub = await bob.subscribe(lambda *a: None, "app.news")

    async def kept():
        return [e["args"] for e in await bob.call("wamp.subscription.get_events", sub.id, 10)] == [[2], [1]]
    await poll_until(kept, timeout=10)


@pytest_twisted.ensureDeferred
async def test_a_callee_node_killed_mid_call_ends_the_call_with_canceled(cluster, processes):
    """kill -9 of the callee's node: its calls in flight end with wamp.error.canceled within the node timeout,
    and its registrations leave the cluster."""
    fast = ("--node-heartbeat", "1", "--node-timeout", "4")
    await cluster.node("na", *fast)
    doomed = start_process(cluster, processes, "nk", *fast)
    for name in ("ann", "bob"):
        await cluster.register("na", name)
    callee = await connect(doomed.ws_url, authmethods=["ticket"], authid="ann", secret=PASSWORD)
    await callee.register(lambda: defer.Deferred(), "app.forever")
    await callee.register(lambda: "here", "app.here")
    caller = await cluster.user("na", "bob")
    await callable_from(caller, "app.here")
    in_flight = caller.call("app.forever")
    await poll_until(lambda: callee._invocations, timeout=5)
    doomed.kill()
    started = reactor.seconds()
    assert await error_of(in_flight) == "wamp.error.canceled"
    assert reactor.seconds() - started < 15
    assert await error_of(caller.call("app.here")) == "wamp.error.no_such_procedure"


@pytest_twisted.ensureDeferred
async def test_autobahnjs_and_autobahn_python_call_each_other_across_nodes(cluster):
    """An AutobahnJS session on node A and an Autobahn|Python one on node B call and publish to each other."""
    from test_autobahnjs import run_node
    from helpers import Collector

    await cluster.node("na")
    await cluster.node("nb")
    python = await cluster.guest("nb", "Py")
    await python.register(lambda text: f"python got {text}", "app.py.echo")
    inbox = Collector()
    await python.subscribe(inbox, "app.py.inbox")
    await callable_from(await cluster.guest("na", "Probe"), "app.py.echo", "probe")   # A knows B's callee
    proc = run_node(cluster.nodes["na"].ws_url, "json", "peer")
    await proc.wait_for_line(lambda line: line.get("ready"))
    answer = await callable_from(python, "app.js.echo", "from python", lang="py")
    await python.publish("app.js.inbox", "hello node", n=2, options=PublishOptions(acknowledge=True))
    assert await proc.ended == 0, proc.report()
    result = proc.lines()[-1]["peer"]
    assert answer == "node got from python" and result["fromPython"] == "python got from node"
    assert result["fromPythonEvents"] == [{"args": ["hello node"], "kwargs": {"n": 2}}]
    assert await inbox.wait_for(1) == [(("hello python",), {"n": 1})]
