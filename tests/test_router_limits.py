"""
Router limits. Bounded outbound buffers over real sockets: a subscriber that
stops reading is dropped, others carry on. Per-session limits on
subscriptions, registrations and calls in flight: past them a request gets
ERROR wampchat.error.limit_exceeded and the session stays up; in-process
trusted sessions are exempt.
"""
import socket

import pytest
import pytest_twisted
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions
from twisted.internet import defer
from twisted.internet.task import Clock

from helpers import Collector, poll_until
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.inprocess import attach_local

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

BUFFER = 256 * 1024         # --outbound-buffer for these tests
EVENT_SIZE = 8 * 1024       # each flooded event's payload
BATCH = 16                  # publications per acknowledged batch: a 128 KiB burst, well inside BUFFER
MAX_BATCHES = 400           # bound: at most 400 * 16 * 8 KiB = 50 MiB before the test gives up


@pytest.fixture
def limited(make_server):
    """A server with a small per-peer outbound buffer, listening for WebSocket and RawSocket."""
    return pytest_twisted.blockon(make_server([
        "--outbound-buffer", str(BUFFER), "--rawsocket", "tcp:0:interface=127.0.0.1"]))


def stop_reading(session):
    """Make a joined client stop reading from its socket (and keep its receive window small)."""
    tcp = session._transport.transport
    sock = tcp.getHandle()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tcp.pauseProducing()


@pytest.mark.parametrize("serializer,rawsocket", [("json", False), ("msgpack", False), ("cbor", False),
                                                  ("msgpack", True)],
                         ids=["ws-json", "ws-msgpack", "ws-cbor", "rs-msgpack"])
@pytest_twisted.inlineCallbacks
def test_slow_consumer_is_dropped_and_others_carry_on(limited, clients, serializer, rawsocket):
    """A subscriber that stops reading is disconnected past --outbound-buffer; a reading one gets every event."""
    router = limited.router
    kw = {"rawsocket_port": limited.rawsocket_port} if rawsocket else {}
    slow = yield clients(limited.ws_url, serializer=serializer, **kw)
    healthy = yield clients(limited.ws_url, serializer="json")
    publisher = yield clients(limited.ws_url, serializer="msgpack")
    yield slow.subscribe(lambda *a: None, "app.flood")
    got = Collector()
    yield healthy.subscribe(got, "app.flood")
    stop_reading(slow)

    payload = "x" * EVENT_SIZE
    published = 0
    for _ in range(MAX_BATCHES):
        for _ in range(BATCH - 1):
            publisher.publish("app.flood", published, payload)
            published += 1
        yield publisher.publish("app.flood", published, payload, options=PublishOptions(acknowledge=True))
        published += 1
        # The reading subscriber keeps up, so only the one that stopped reading falls behind.
        yield got.wait_for(published)
        if router.metrics.slow_consumers.value:
            break
    yield poll_until(lambda: router.metrics.slow_consumers.value == 1, timeout=10)
    assert published < MAX_BATCHES * BATCH, "the slow consumer was never dropped"
    yield poll_until(lambda: router.session_count() == 2, timeout=10)

    events = yield got.wait_for(published, timeout=30)
    assert [e[0][0] for e in events] == list(range(published))
    assert router.session_count() == 2
    yield publisher.publish("app.flood", "after", "small", options=PublishOptions(acknowledge=True))
    yield got.wait_for(published + 1)
    assert "wampchat_slow_consumer_disconnects_total 1" in router.metrics.render()


@pytest_twisted.inlineCallbacks
def test_reading_subscriber_is_not_dropped(limited, clients):
    """A subscriber that keeps reading receives more than --outbound-buffer bytes without being dropped."""
    router = limited.router
    sub = yield clients(limited.ws_url, serializer="cbor")
    publisher = yield clients(limited.ws_url)
    got = Collector()
    yield sub.subscribe(got, "app.steady")
    payload = "y" * EVENT_SIZE
    total = 4 * BUFFER // EVENT_SIZE
    for i in range(0, total, BATCH):
        for j in range(i, i + BATCH):
            publisher.publish("app.steady", j, payload)
        yield got.wait_for(i + BATCH)
    assert router.metrics.slow_consumers.value == 0
    assert sub.is_attached()


@pytest_twisted.inlineCallbacks
def test_many_sessions_join_and_leave(limited, clients):
    """Fifty sessions join and leave; the router's session count and the gauge return to the start."""
    router = limited.router
    sessions = yield defer.gatherResults([clients(limited.ws_url, serializer=s)
                                          for s in ["json", "msgpack", "cbor"] * 16 + ["json", "cbor"]])
    assert router.session_count() == 50
    assert router.metrics.sessions.value == 50
    for s in sessions:
        s.leave()
    yield poll_until(lambda: router.session_count() == 0, timeout=10)
    assert router.metrics.sessions.value == 0


# -- per-session limits ------------------------------------------------------------------------------

LIMITED_ARGS = ["--max-subscriptions", "3", "--max-registrations", "2", "--max-calls-in-flight", "2"]


@pytest.fixture
def capped(make_server):
    """A server with small per-session limits: 3 subscriptions, 2 registrations, 2 calls in flight."""
    return pytest_twisted.blockon(make_server(LIMITED_ARGS))


@defer.inlineCallbacks
def limit_error(d, timeout=10.0):
    """The ApplicationError ``d`` fails with; fails the test if it succeeds or is not answered in ``timeout`` s."""
    from twisted.internet import reactor

    try:
        result = yield d.addTimeout(timeout, reactor)
    except ApplicationError as e:
        return e
    raise AssertionError(f"expected limit_exceeded, got {result!r}")


def assert_limit(error, limit, allowed, option):
    """``error`` is limit_exceeded for ``limit`` and its message names the option that sets it."""
    assert error.error == "wampchat.error.limit_exceeded"
    assert option in error.args[0], error.args
    assert error.kwargs == {"limit": limit, "allowed": allowed}


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
@pytest_twisted.inlineCallbacks
def test_subscriptions_past_the_limit_are_refused(capped, clients, serializer):
    """The 4th subscription is refused with limit_exceeded; repeating a held one, or after unsubscribing, works."""
    session = yield clients(capped.ws_url, serializer=serializer)
    subs = yield defer.gatherResults([session.subscribe(lambda *a: None, f"app.limit.t{i}") for i in range(3)])
    error = yield limit_error(session.subscribe(lambda *a: None, "app.limit.t3"))
    assert_limit(error, "subscriptions", 3, "--max-subscriptions")
    again = yield session.subscribe(lambda *a: None, "app.limit.t0")  # already held: nothing new
    assert again.id == subs[0].id
    yield subs[1].unsubscribe()
    yield session.subscribe(lambda *a: None, "app.limit.t3")
    assert session.is_attached()
    assert capped.router.metrics.limit_refusals.value == 1


@pytest_twisted.inlineCallbacks
def test_registrations_past_the_limit_are_refused(capped, clients):
    """The 3rd registration is refused with limit_exceeded; after an unregister a new one works."""
    session = yield clients(capped.ws_url, serializer="msgpack")
    regs = yield defer.gatherResults([session.register(lambda: 0, "app.limit.p0"),
                                      session.register(lambda: 1, "app.limit.p1")])
    error = yield limit_error(session.register(lambda: 2, "app.limit.p2"))
    assert_limit(error, "registrations", 2, "--max-registrations")
    yield regs[0].unregister()
    yield session.register(lambda: 2, "app.limit.p2")
    assert (yield session.call("app.limit.p2")) == 2  # still joined and working


@pytest_twisted.inlineCallbacks
def test_calls_in_flight_past_the_limit_are_refused(capped, clients):
    """With 2 calls waiting, a 3rd is refused without reaching the callee; once one is answered, calls go through."""
    callee = yield clients(capped.ws_url, serializer="cbor")
    caller = yield clients(capped.ws_url)
    waiting = []

    def slow(n):
        d = defer.Deferred()
        waiting.append((n, d))
        return d

    yield callee.register(slow, "app.limit.slow")
    first, second = caller.call("app.limit.slow", 1), caller.call("app.limit.slow", 2)
    error = yield limit_error(caller.call("app.limit.slow", 3))
    assert_limit(error, "calls_in_flight", 2, "--max-calls-in-flight")
    yield poll_until(lambda: len(waiting) == 2)
    assert [n for n, _ in waiting] == [1, 2]  # the refused call never reached the callee
    waiting[0][1].callback("one")
    assert (yield first) == "one"
    fourth = caller.call("app.limit.slow", 4)
    yield poll_until(lambda: len(waiting) == 3)
    waiting[1][1].callback("two")
    waiting[2][1].callback("four")
    assert (yield defer.gatherResults([second, fourth])) == ["two", "four"]


@pytest_twisted.inlineCallbacks
def test_one_sessions_limit_does_not_touch_another(capped, clients):
    """A session at its subscription limit leaves other sessions free to subscribe."""
    full = yield clients(capped.ws_url)
    for i in range(3):
        yield full.subscribe(lambda *a: None, f"app.limit.full{i}")
    assert_limit((yield limit_error(full.subscribe(lambda *a: None, "app.limit.more"))), "subscriptions", 3,
                 "--max-subscriptions")
    other = yield clients(capped.ws_url)
    got = Collector()
    yield other.subscribe(got, "app.limit.more")
    yield full.publish("app.limit.more", "still works", options=PublishOptions(acknowledge=True))
    assert (yield got.wait_for(1)) == [(("still works",), {})]


class _Service(ApplicationSession):
    """An in-process service: joins at once through attach_local."""

    def onConnect(self):
        self.join(self.config.realm)


def _fired(d):
    """The result of an already-fired Deferred (in-process calls answer synchronously)."""
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


@pytest.mark.parametrize("role,limited", [("trusted", False), ("user", True)])
def test_trusted_in_process_sessions_are_exempt(role, limited):
    """In-process trusted services may subscribe and register past the limits; other roles may not."""
    realm = Router(Clock(), RouterConfig(max_subscriptions=1, max_registrations=1)).realm("wampchat")
    service = _Service(ComponentConfig(realm=realm.name))
    attach_local(realm, service, "svc", role)
    _fired(service.subscribe(lambda *a: None, "app.one"))
    _fired(service.register(lambda: 1, "app.p1"))
    outcomes = []
    for d in (service.subscribe(lambda *a: None, "app.two"), service.register(lambda: 2, "app.p2")):
        d.addCallbacks(lambda _: outcomes.append("ok"), lambda f: outcomes.append(f.value.error))
    assert outcomes == (["wampchat.error.limit_exceeded"] * 2 if limited else ["ok", "ok"])
