"""Broker over real sockets: matching, acknowledge, exclusion, black/white-listing, disclosure, order."""
import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

from helpers import Collector

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SERIALIZERS = ["json", "msgpack", "cbor"]
# Every serializer over WebSocket, plus a representative RawSocket pair.
TRANSPORTS = [pytest.param(s, False, id=f"ws-{s}") for s in SERIALIZERS] + [
    pytest.param("json", True, id="rs-json"),
    pytest.param("cbor", True, id="rs-cbor"),
]
ACK = PublishOptions(acknowledge=True)


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_exact_subscription_acknowledge_and_exclude_me(join, serializer, rawsocket):
    """An exact subscriber gets the event; the publisher gets it only with exclude_me=False; acks carry an id."""
    pub = yield join(serializer, rawsocket)
    sub = yield join(serializer, rawsocket)
    got_sub, got_pub = Collector(), Collector()
    yield sub.subscribe(got_sub, "app.ps.exact")
    yield pub.subscribe(got_pub, "app.ps.exact")

    first = yield pub.publish("app.ps.exact", "default", options=ACK)
    assert isinstance(first.id, int) and first.id > 0
    second = yield pub.publish("app.ps.exact", "me too",
                               options=PublishOptions(acknowledge=True, exclude_me=False))
    assert second.id != first.id
    unacked = pub.publish("app.ps.exact", "no ack")
    assert unacked is None

    events = yield got_sub.wait_for(3)
    assert [e[0] for e in events] == [("default",), ("me too",), ("no ack",)]
    mine = yield got_pub.wait_for(1)
    # Events from one publisher arrive in order, so "no ack" behind "me too" proves nothing else came.
    yield got_sub.wait_for(3)
    assert [e[0] for e in mine] == [("me too",)]


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_prefix_and_wildcard_subscriptions_report_the_topic(join, serializer, rawsocket):
    """Prefix and wildcard subscribers receive matching events with details.topic; non-matching ones get nothing."""
    pub = yield join(serializer, rawsocket)
    sub = yield join(serializer, rawsocket)
    prefix, wildcard, exact = Collector(), Collector(), Collector()
    yield sub.subscribe(prefix, "app.ps.room.", options=SubscribeOptions(match="prefix", details_arg="details"))
    yield sub.subscribe(wildcard, "app.ps.room..msg",
                        options=SubscribeOptions(match="wildcard", details_arg="details"))
    yield sub.subscribe(exact, "app.ps.room.1.msg", options=SubscribeOptions(details_arg="details"))

    yield pub.publish("app.ps.room.2.msg", 1, options=ACK)      # prefix, wildcard
    yield pub.publish("app.ps.room.1.msg", 2, options=ACK)      # all three
    yield pub.publish("app.ps.room.2.join", 3, options=ACK)     # prefix only
    yield pub.publish("app.psx.room.1.msg", 4, options=ACK)     # none
    yield pub.publish("app.ps.room.1.x.msg", 5, options=ACK)    # prefix only (wildcards match one component)
    yield pub.publish("app.ps.room.1.msg", 6, options=ACK)      # all three: the marker

    p = yield prefix.wait_for(5)
    w = yield wildcard.wait_for(3)
    e = yield exact.wait_for(2)
    assert [(a[0], k["details"].topic) for a, k in p] == [
        (1, "app.ps.room.2.msg"), (2, "app.ps.room.1.msg"), (3, "app.ps.room.2.join"),
        (5, "app.ps.room.1.x.msg"), (6, "app.ps.room.1.msg")]
    assert [(a[0], k["details"].topic) for a, k in w] == [
        (1, "app.ps.room.2.msg"), (2, "app.ps.room.1.msg"), (6, "app.ps.room.1.msg")]
    assert [a[0] for a, _ in e] == [2, 6]
    assert e[0][1]["details"].topic in (None, "app.ps.room.1.msg")  # optional for exact subscriptions


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_exclude_and_eligible_by_session_authid_and_authrole(join, serializer):
    """exclude/eligible by session id, authid and authrole pick exactly the intended receivers."""
    pub = yield join(serializer)
    a = yield join(serializer)
    b = yield join(serializer)
    ga, gb = Collector(), Collector()
    yield a.subscribe(ga, "app.ps.bw")
    yield b.subscribe(gb, "app.ps.bw")
    a_id, b_id = a.details.session, b.details.session
    a_authid = a.details.authid

    yield pub.publish("app.ps.bw", "not-a", options=PublishOptions(acknowledge=True, exclude=[a_id]))
    yield pub.publish("app.ps.bw", "only-a", options=PublishOptions(acknowledge=True, eligible=[a_id]))
    yield pub.publish("app.ps.bw", "authid-not-a",
                      options=PublishOptions(acknowledge=True, exclude_authid=[a_authid]))
    yield pub.publish("app.ps.bw", "authid-only-a",
                      options=PublishOptions(acknowledge=True, eligible_authid=[a_authid]))
    yield pub.publish("app.ps.bw", "no-guests",
                      options=PublishOptions(acknowledge=True, exclude_authrole=["guest"]))
    yield pub.publish("app.ps.bw", "role-user-only",
                      options=PublishOptions(acknowledge=True, eligible_authrole=["user"]))
    yield pub.publish("app.ps.bw", "guests", options=PublishOptions(acknowledge=True, eligible_authrole=["guest"]))

    ea = yield ga.wait_for(3)
    eb = yield gb.wait_for(3)
    assert [e[0][0] for e in ea] == ["only-a", "authid-only-a", "guests"]
    assert [e[0][0] for e in eb] == ["not-a", "authid-not-a", "guests"]
    assert b_id != a_id


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_publisher_disclosure(join, serializer):
    """Events carry the publisher's session id and authid."""
    pub = yield join(serializer, authextra={"nick": "Alice"})
    sub = yield join(serializer)
    got = Collector()
    yield sub.subscribe(got, "app.ps.disclose", options=SubscribeOptions(details_arg="details"))
    yield pub.publish("app.ps.disclose", "hi", options=ACK)
    events = yield got.wait_for(1)
    details = events[0][1]["details"]
    assert details.publisher == pub.details.session
    assert details.publisher_authid == pub.details.authid
    assert details.publisher_authid.startswith("guest_")


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_one_subscription_id_per_topic_and_match(join, serializer):
    """Subscribers of the same topic and match share one subscription id; another match gets another id."""
    a = yield join(serializer)
    b = yield join("cbor" if serializer == "json" else "json")
    sa = yield a.subscribe(Collector(), "app.ps.shared")
    sb = yield b.subscribe(Collector(), "app.ps.shared")
    sp = yield b.subscribe(Collector(), "app.ps.shared", options=SubscribeOptions(match="prefix"))
    assert sa.id == sb.id
    assert sp.id != sa.id


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_events_arrive_in_publish_order(join, serializer, rawsocket):
    """200 publications sent back to back arrive in publish order at two subscribers."""
    pub = yield join(serializer, rawsocket)
    s1 = yield join(serializer, rawsocket)
    s2 = yield join("msgpack", False)
    g1, g2 = Collector(), Collector()
    yield s1.subscribe(g1, "app.ps.order")
    yield s2.subscribe(g2, "app.ps.order")
    for i in range(199):
        pub.publish("app.ps.order", i)
    yield pub.publish("app.ps.order", 199, options=ACK)
    e1 = yield g1.wait_for(200)
    e2 = yield g2.wait_for(200)
    assert [e[0][0] for e in e1] == list(range(200))
    assert [e[0][0] for e in e2] == list(range(200))


@pytest.mark.parametrize("serializer,rawsocket", TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_unsubscribe_stops_events(join, serializer, rawsocket):
    """After unsubscribing, a session gets no more events for that topic but keeps its other subscriptions."""
    pub = yield join(serializer, rawsocket)
    sub = yield join(serializer, rawsocket)
    gone, kept = Collector(), Collector()
    s1 = yield sub.subscribe(gone, "app.ps.unsub")
    yield sub.subscribe(kept, "app.ps.kept")
    yield pub.publish("app.ps.unsub", "before", options=ACK)
    yield gone.wait_for(1)
    yield s1.unsubscribe()
    yield pub.publish("app.ps.unsub", "after", options=ACK)
    yield pub.publish("app.ps.kept", "marker", options=ACK)
    yield kept.wait_for(1)
    # per-publisher order: "after" would have arrived before "marker"
    assert [e[0] for e in gone.events] == [("before",)]


@pytest_twisted.inlineCallbacks
def test_serializers_interoperate(join):
    """A publication from a JSON session reaches msgpack, CBOR and RawSocket subscribers intact."""
    pub = yield join("json")
    subs = [(yield join("msgpack")), (yield join("cbor")), (yield join("msgpack", True))]
    collectors = [Collector() for _ in subs]
    for s, c in zip(subs, collectors):
        yield s.subscribe(c, "app.ps.mixed")
    payload = {"text": "héllo", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    yield pub.publish("app.ps.mixed", "x", **payload, options=ACK)
    results = yield defer.gatherResults([c.wait_for(1) for c in collectors])
    for events in results:
        assert events[0] == (("x",), payload)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_same_session_subscribing_twice_gets_one_subscription(join, serializer, router):
    """A session subscribing twice to one topic gets the same subscription and each event once per handler."""
    pub = yield join(serializer)
    sub = yield join(serializer)
    h1, h2 = Collector(), Collector()
    s1 = yield sub.subscribe(h1, "app.ps.twice")
    s2 = yield sub.subscribe(h2, "app.ps.twice")
    assert s1.id == s2.id
    before = router.router.metrics.events_out.value
    yield pub.publish("app.ps.twice", "once", options=ACK)
    yield h1.wait_for(1)
    yield h2.wait_for(1)
    assert router.router.metrics.events_out.value == before + 1  # one EVENT on the wire for the session
    yield s1.unsubscribe()
    yield pub.publish("app.ps.twice", "again", options=ACK)
    yield h2.wait_for(2)
    assert [e[0] for e in h1.events] == [("once",)]
