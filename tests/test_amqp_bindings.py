"""The node queue is bound to what the node's sessions subscribe to, not to ``#`` (wampchat/amqp/bindings.py)."""
import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer
from twisted.internet.task import Clock

from helpers import Collector, poll_until
from rabbitmq import PikaPeer, SERVICE_USER, amqp_server, bridge_of, metric, rabbitmq  # noqa: F401 (fixture)
from wampchat.amqp.bindings import BIND_WAIT, TopicBindings, binding_key
from wampchat.router.broker import Subscription

ACK = PublishOptions(acknowledge=True)
PREFIX = SubscribeOptions(match="prefix")
WILDCARD = SubscribeOptions(match="wildcard")


@pytest.mark.parametrize("uri, match, key", [
    ("app.feed", "exact", "app.feed"),
    ("app..feed", "wildcard", "app.*.feed"),
    (".feed.", "wildcard", "*.feed.*"),
    ("app.ben", "prefix", "app.#"),     # a WAMP prefix matches part of a component: app.bench too
    ("app.", "prefix", "app.#"),
    ("app", "prefix", "#"),
    ("wamp.session.on_join", "exact", None),
    ("wamp.", "prefix", None),
    ("a" * 256, "exact", None),          # no routing key can be longer than 255 bytes
])
def test_binding_keys_cover_their_subscriptions(uri, match, key):
    assert binding_key(uri, match) == key


class RecordingChannel:
    """A txamqp channel stand-in: records queue.bind/unbind and answers when the test says."""

    closed = False

    def __init__(self):
        self.calls = []

    def _call(self, what, routing_key):
        d = defer.Deferred()
        self.calls.append((what, routing_key, d))
        return d

    def queue_bind(self, queue, exchange, routing_key):
        return self._call("bind", routing_key)

    def queue_unbind(self, queue, exchange, routing_key):
        return self._call("unbind", routing_key)

    def answer_all(self):
        for _, _, d in self.calls:
            if not d.called:
                d.callback(None)

    def log(self):
        return [(what, key) for what, key, _ in self.calls]


def test_keys_are_counted_and_new_subscriptions_wait_for_bind_ok():
    clock, channel = Clock(), RecordingChannel()
    bindings = TopicBindings(clock, "q", "x")
    bindings._channel = channel
    exact, prefix = Subscription("app.bench", "exact"), Subscription("app.b", "prefix")
    other_prefix = Subscription("app.c", "prefix")
    waiting = bindings.subscription_created(exact)
    assert waiting is not None and not waiting.called and channel.log() == [("bind", "app.bench")]
    channel.answer_all()
    assert waiting.called
    first, second = bindings.subscription_created(prefix), bindings.subscription_created(other_prefix)
    assert second is not None and not second.called  # same key, bind still under way: it waits too
    channel.answer_all()
    assert first.called and second.called and channel.log().count(("bind", "app.#")) == 1
    bindings.subscription_deleted(prefix)
    assert ("unbind", "app.#") not in channel.log()  # app.c still needs it
    bindings.subscription_deleted(other_prefix)
    assert channel.log()[-1] == ("unbind", "app.#") and bindings.keys() == {"app.bench"}
    assert bindings.subscription_created(Subscription("wamp.session.on_join", "exact")) is None
    assert len(bindings) == 1


def test_a_key_unbound_and_wanted_again_is_bound_again_in_order():
    clock, channel = Clock(), RecordingChannel()
    bindings = TopicBindings(clock, "q", "x")
    bindings._channel = channel
    sub = Subscription("app.x", "exact")
    bindings.subscription_created(sub)
    bindings.subscription_deleted(sub)
    again = bindings.subscription_created(Subscription("app.x", "exact"))
    assert channel.log() == [("bind", "app.x"), ("unbind", "app.x"), ("bind", "app.x")]
    channel.calls[0][2].callback(None)
    assert not again.called  # it waits for the bind that came after the unbind
    channel.answer_all()
    assert again.called


def test_a_silent_broker_holds_a_subscription_only_bind_wait_seconds():
    clock, channel = Clock(), RecordingChannel()
    bindings = TopicBindings(clock, "q", "x")
    bindings._channel = channel
    waiting = bindings.subscription_created(Subscription("app.x", "exact"))
    clock.advance(BIND_WAIT - 0.1)
    assert not waiting.called
    clock.advance(0.2)
    assert waiting.called


def test_while_the_link_is_down_nothing_waits_and_set_up_binds_every_key():
    clock, channel = Clock(), RecordingChannel()
    bindings = TopicBindings(clock, "q", "x")
    assert bindings.subscription_created(Subscription("app.x", "exact")) is None
    gone = Subscription("app.gone", "exact")
    bindings.subscription_created(gone)
    bindings.subscription_deleted(gone)
    done = defer.ensureDeferred(bindings.setup(channel))
    for _ in range(3):
        channel.answer_all()
    assert done.called
    assert channel.log() == [("unbind", "#"), ("bind", "app.x")]  # "#": what a queue of an older node had


@pytest_twisted.ensureDeferred
async def test_a_node_takes_in_only_the_topics_its_sessions_subscribe_to(rabbitmq, make_server, clients):
    """Unsubscribed topics stay on the broker; a subscription binds, its end unbinds; prefixes match as WAMP does."""
    server = await amqp_server(make_server, rabbitmq, node_id="bindnode")
    peer = await PikaPeer.connect(rabbitmq)
    try:
        guest = await clients(server.ws_url)
        feed, bench, rows = Collector(), Collector(), Collector()
        feed_sub = await guest.subscribe(feed, "app.bind.feed")
        bench_sub = await guest.subscribe(bench, "app.bind.ben", options=PREFIX)
        rows_sub = await guest.subscribe(rows, "app.bind..row", options=WILDCARD)
        assert metric(server, "wampchat_amqp_bindings") == 3
        received = metric(server, "wampchat_amqp_received_total")
        await peer.publish("app.bind.nobody", {"args": ["not for this node"]}, user_id=SERVICE_USER[0])
        await peer.publish("app.bind.bench.x", {"args": ["prefix"]}, user_id=SERVICE_USER[0])
        await peer.publish("app.bind.7.row", {"args": ["wildcard"]}, user_id=SERVICE_USER[0])
        await peer.publish("app.bind.feed", {"args": ["exact"]}, user_id=SERVICE_USER[0])
        await feed.wait_for(1)
        await bench.wait_for(1)
        await rows.wait_for(1)
        # The broker keeps one queue's order: by the last one, all four would have come if bound.
        # "app.bind.nobody" matches the prefix's "app.bind.#" binding, reaches the node and is dropped
        # there by WAMP's matching; it never reaches a subscriber.
        assert metric(server, "wampchat_amqp_received_total") - received == 4
        assert (feed.events, bench.events, rows.events) == ([(("exact",), {})], [(("prefix",), {})],
                                                          [(("wildcard",), {})])
        await feed_sub.unsubscribe()
        await poll_until(lambda: "app.bind.feed" not in bridge_of(server).bindings._on_broker)
        await bench_sub.unsubscribe()
        await rows_sub.unsubscribe()
        await poll_until(lambda: metric(server, "wampchat_amqp_bindings") == 0)
        marker = Collector()
        await guest.subscribe(marker, "app.other.marker")
        received = metric(server, "wampchat_amqp_received_total")
        await peer.publish("app.bind.feed", {"args": ["unbound now"]}, user_id=SERVICE_USER[0])
        await peer.publish("app.other.marker", {"args": ["marker"]}, user_id=SERVICE_USER[0])
        await marker.wait_for(1)
        assert metric(server, "wampchat_amqp_received_total") - received == 1
        assert feed.events == [(("exact",), {})]
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_subscribed_on_one_node_means_the_next_publication_on_another_arrives(rabbitmq, make_server,
                                                                                   clients, tmp_path):
    """SUBSCRIBED comes after the broker bound the topic, so a publication right after it is not lost."""
    a = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "a.sqlite"), node_id="bindera")
    b = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "b.sqlite"), node_id="binderb")
    publisher = await clients(a.ws_url)
    listener = await clients(b.ws_url)
    for n in range(20):  # each round a topic no node had bound before
        got = Collector()
        await listener.subscribe(got, f"app.race.t{n}")
        await publisher.publish(f"app.race.t{n}", n, options=ACK)
        assert (await got.wait_for(1)) == [((n,), {})]
