"""Bounded outbound buffers over real sockets: a subscriber that stops reading is dropped, others carry on."""
import socket

import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer

from helpers import Collector, poll_until

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
    assert (yield publisher.call("wamp.session.count")) == 2
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
