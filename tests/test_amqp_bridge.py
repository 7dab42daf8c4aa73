"""The RabbitMQ bridge against a private broker, with pika as the outside service (API.md §6)."""
import json
import socket

import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult, PublishOptions, RegisterOptions, SubscribeOptions
from twisted.internet import reactor
from twisted.web.client import Agent

from helpers import Collector, poll_until, read_body
from rabbitmq import (NODE_USER, SERVICE_USER, PikaPeer, admin, amqp_server, bridge_of, free_port, get_json,
                      metric, rabbitmq)  # noqa: F401 (fixture)

ACK = PublishOptions(acknowledge=True)


def test_make_service_adds_the_bridge_only_with_amqp():
    """``--amqp`` puts an AmqpBridge named "amqp" into the service tree, with the options' settings."""
    from wampchat.amqp import AmqpBridge
    from wampchat.tap import Options, makeService

    options = Options()
    options.parseOptions(["--amqp", "amqp://n:p@broker.example/chat", "--amqp-node-users", "n2,n3",
                          "--amqp-exchange", "rooms", "--amqp-outbox", "7", "--node-id", "abc"])
    bridge = makeService(options, reactor=reactor).getServiceNamed("amqp")
    assert isinstance(bridge, AmqpBridge)
    s = bridge.settings
    assert (s.exchange, s.rpc_exchange, s.node_queue, s.outbox) == ("rooms", "rooms.rpc", "rooms.node.abc", 7)
    assert s.node_users == {"n", "n2", "n3"} and s.url.vhost == "chat"
    plain = Options()
    plain.parseOptions([])
    assert "amqp" not in [child.name for child in makeService(plain, reactor=reactor)]


@pytest_twisted.ensureDeferred
async def test_publications_are_mirrored_with_keys_bodies_and_properties(rabbitmq, make_server, clients):
    """A WAMP publication reaches an AMQP consumer with routing key = topic, a JSON body and §6's properties."""
    server = await amqp_server(make_server, rabbitmq)
    peer = await PikaPeer.connect(rabbitmq)
    try:
        inbox = await peer.listen(binding="app.mirror.#")
        alice = await clients(server.ws_url)
        await alice.publish("app.mirror.one", 1, "two", k="v", options=ACK)
        await alice.publish("app.mirror.two", options=ACK)
        await alice.publish("app.mirror.ünïcode", "ß", options=ACK)
        (_, m1, p1, b1), (_, m2, p2, b2), (_, m3, _, b3) = await inbox.take(3)
        assert (m3.routing_key, json.loads(b3)["args"]) == ("app.mirror.ünïcode", ["ß"])
        assert (m1.exchange, m1.routing_key, m2.routing_key) == ("wampchat", "app.mirror.one", "app.mirror.two")
        assert json.loads(b1) == {"args": [1, "two"], "kwargs": {"k": "v"}}
        assert json.loads(b2) == {"args": [], "kwargs": {}}
        assert p1.content_type == "application/json" and p1.delivery_mode == 2
        assert p1.message_id.startswith("nodea:") and p1.message_id != p2.message_id
        assert p1.user_id == NODE_USER[0] and abs(p1.timestamp - reactor.seconds()) < 60
        assert p1.headers == {"wampchat-node": "nodea", "wampchat-publisher": alice.details.authid}
        assert p2.headers == p1.headers  # the default roles disclose publishers (a role's "disclose": false omits it)
        health = await get_json(server.http_url + "/healthz")
        assert health["amqp"]["state"] == "connected" and health["amqp"]["node"] == "nodea"
        await poll_until(lambda: metric(server, "wampchat_amqp_outbox") == 0)
        assert metric(server, "wampchat_amqp_confirmed_total") >= 2
        text = (await read_body(await Agent(reactor).request(b"GET", (server.http_url + "/metrics").encode()))).decode()
        assert "wampchat_amqp_mirrored_total" in text and "wampchat_amqp_connected 1" in text
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_the_broker_connection_sends_small_messages_at_once(rabbitmq, make_server):
    """TCP_NODELAY on the link: with Nagle's algorithm a small publish waits for the broker's delayed ACK of
    the one before, up to 40 ms, which made every call to another node's callee take about 90 ms."""
    server = await amqp_server(make_server, rabbitmq)
    client = bridge_of(server).link.publisher._client
    assert client.transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@pytest_twisted.ensureDeferred
async def test_amqp_publications_reach_wamp_subscribers_once(rabbitmq, make_server, clients):
    """An AMQP service's message is an event for WAMP subscribers; a WAMP publication is not delivered twice."""
    server = await amqp_server(make_server, rabbitmq)
    peer = await PikaPeer.connect(rabbitmq)
    try:
        bob = await clients(server.ws_url)
        feed = Collector()
        await bob.subscribe(feed, "app.feed")
        await peer.publish("app.feed", {"args": ["from amqp"], "kwargs": {"n": 1}}, user_id=SERVICE_USER[0],
                           message_id="svc-1")
        await feed.wait_for(1)
        assert feed.events[0] == (("from amqp",), {"n": 1})
        alice = await clients(server.ws_url)
        await alice.publish("app.feed", "from wamp", options=ACK)
        await peer.publish("app.feed", {"args": ["marker"]}, user_id=SERVICE_USER[0])
        await feed.wait_for(3)
        await poll_until(lambda: metric(server, "wampchat_amqp_received_total") == 2)
        assert [args for args, _ in feed.events] == [("from amqp",), ("from wamp",), ("marker",)]
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_bad_inbound_messages_are_rejected_counted_and_harmless(rabbitmq, make_server, clients):
    """Bad bodies, content types and routing keys, and forged chat.*, are rejected and counted; the bridge goes on."""
    server = await amqp_server(make_server, rabbitmq)
    peer = await PikaPeer.connect(rabbitmq)
    try:
        guest = await clients(server.ws_url)
        seen = Collector()
        await guest.subscribe(seen, "app.bad", options=None)
        anything_under_app = Collector()  # a prefix binds "app.#", so the malformed keys below reach the node
        await guest.subscribe(anything_under_app, "app.", options=SubscribeOptions(match="prefix"))
        lobby = Collector()
        await guest.call("chat.room.join", "lobby")
        await guest.subscribe(lobby, "chat.room.lobby.message")
        await peer.publish("app.bad", b"{not json", content_type="application/json")
        await peer.publish("app.bad", b'{"args": []}', content_type="text/plain")
        await peer.publish("app.bad", b'["a list"]')
        await peer.publish("app.bad", b'{"args": {"not": "a list"}}')
        await peer.publish("app.bad", b"\xff\xfe")
        await peer.publish("app.bad key", {"args": []})
        await peer.publish("app..bad", {"args": []})
        await peer.publish("wamp.session.on_join", {"args": [{}]})
        fake = {"id": "x", "room": "lobby", "user": "admin", "nick": "admin", "text": "forged", "ts": 1}
        await peer.publish("chat.room.lobby.message", {"args": [fake]}, user_id=SERVICE_USER[0])
        await peer.publish("chat.room.lobby.message", {"args": [fake]})  # no user_id at all
        every_header_type = {"n": 7, "big": 2**40, "b": True, "x": None, "t": {"nested": "yes"}, "a": [1, "two"],
                             "raw": b"\x00"}
        await peer.publish("app.bad", {"args": ["good"]}, headers=every_header_type)
        await seen.wait_for(1)
        # wamp.session.on_join is not rejected: no binding covers wamp.*, so the broker never routes it here
        await poll_until(lambda: metric(server, "wampchat_amqp_rejected_total") == 7)
        assert metric(server, "wampchat_amqp_refused_total") == 2
        assert (await anything_under_app.wait_for(1)) == [(("good",), {})]
        assert seen.events == [(("good",), {})]
        assert lobby.events == []
        assert bridge_of(server).link.state == "connected"
        assert metric(server, "wampchat_amqp_connects_total") == 1
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_rpc_over_amqp_results_errors_and_bad_requests(rabbitmq, make_server, clients):
    """AMQP RPC calls WAMP procedures as the broker-validated user with role service; errors come back as §6 says."""
    server = await amqp_server(make_server, rabbitmq)
    await admin(server, "adduser", SERVICE_USER[0], "--role", "service")  # AMQP RPC runs as this account
    peer = await PikaPeer.connect(rabbitmq)
    try:
        callee = await clients(server.ws_url)
        callers = []

        def add(a, b, details=None):
            callers.append((details.caller_authid, details.caller_authrole))
            return a + b

        def fail():
            raise ApplicationError("app.error.nope", "no way", hint=1)

        await callee.register(add, "app.add", options=RegisterOptions(details_arg="details"))
        await callee.register(fail, "app.fail")
        await callee.register(lambda: CallResult(1, 2, k=3), "app.pair")
        await callee.register(lambda: None, "app.nothing")
        assert await peer.call("app.add", [2, 3]) == {"result": 5}
        assert callers == [(SERVICE_USER[0], "service")]
        assert await peer.call("app.pair") == {"result": [1, 2], "kwargs": {"k": 3}}
        assert await peer.call("app.nothing") == {"result": None}
        assert await peer.call("app.fail") == {"error": "app.error.nope", "args": ["no way"], "kwargs": {"hint": 1}}
        missing = await peer.call("app.missing")
        assert missing["error"] == "wamp.error.no_such_procedure"
        assert (await peer.call("app.add", body=b"{oops"))["error"] == "wamp.error.invalid_argument"
        assert (await peer.call("bad uri!", [1]))["error"] == "wamp.error.invalid_argument"
        assert (await peer.call("app.add", [1, 2], user_id=None))["error"] == "wamp.error.invalid_argument"
        await peer.publish("app.add", {"args": [1, 1]}, exchange="wampchat.rpc", user_id=SERVICE_USER[0])
        await poll_until(lambda: metric(server, "wampchat_amqp_rpc_unanswerable_total") == 1)
        assert await peer.call("app.add", [20, 22]) == {"result": 42}
        assert metric(server, "wampchat_amqp_rpc_errors_total") == 5
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_a_service_posts_into_a_room_over_amqp_rpc(rabbitmq, make_server, clients):
    """chat.message.send over AMQP RPC stores the message and WebSocket users in the room receive it."""
    server = await amqp_server(make_server, rabbitmq)
    await admin(server, "adduser", SERVICE_USER[0], "--role", "service")
    peer = await PikaPeer.connect(rabbitmq)
    try:
        guest = await clients(server.ws_url)
        await guest.call("chat.room.join", "lobby")
        lobby = Collector()
        await guest.subscribe(lobby, "chat.room.lobby.message")
        listener = await peer.listen(binding="chat.room.lobby.message")
        reply = await peer.call("chat.message.send", ["lobby", "beep from a bot"], {"client_msg_id": "b1"})
        assert "error" not in reply, reply
        sent = reply["result"]
        assert (sent["user"], sent["text"], sent["room"]) == (SERVICE_USER[0], "beep from a bot", "lobby")
        await lobby.wait_for(1)
        assert lobby.events[0][0][0] == sent
        (_, method, _, body), = await listener.take(1)
        assert json.loads(body)["args"] == [sent]
        again = await peer.call("chat.message.send", ["lobby", "beep from a bot"], {"client_msg_id": "b1"})
        assert again["result"]["id"] == sent["id"]
        history = await guest.call("chat.message.history", "lobby")
        assert [m["id"] for m in history["messages"]].count(sent["id"]) == 1
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_two_nodes_share_a_room(rabbitmq, make_server, clients, tmp_path):
    """A message sent on node A reaches a subscriber on node B exactly once, and the other way round."""
    a = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "a.sqlite"), node_id="nodea")
    b = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "b.sqlite"), node_id="nodeb")
    ann = await clients(a.ws_url)
    bob = await clients(b.ws_url)
    on_a, on_b = Collector(), Collector()
    for session, collector in ((ann, on_a), (bob, on_b)):
        await session.call("chat.room.join", "lobby")
        await session.subscribe(collector, "chat.room.lobby.message")
    from_a = await ann.call("chat.message.send", "lobby", "hello from A")
    await on_b.wait_for(1)
    from_b = await bob.call("chat.message.send", "lobby", "hello from B")
    await on_a.wait_for(2)
    await on_b.wait_for(2)
    # one more round trip, so a late duplicate would have arrived before we count
    await ann.call("chat.message.send", "lobby", "last")
    await on_a.wait_for(3)
    await on_b.wait_for(3)
    texts = ["hello from A", "hello from B", "last"]
    assert [args[0]["text"] for args, _ in on_a.events] == texts
    assert [args[0]["text"] for args, _ in on_b.events] == texts
    assert on_b.events[0][0][0] == from_a and on_a.events[1][0][0] == from_b
    assert from_a["id"] != from_b["id"]
    assert metric(a, "wampchat_amqp_duplicates_total") == 0 and metric(b, "wampchat_amqp_duplicates_total") == 0


@pytest_twisted.ensureDeferred
async def test_private_rooms_stay_off_the_exchange(rabbitmq, make_server, clients):
    """A private room's events (a limited audience) are not mirrored; the public lobby's are, in order."""
    server = await amqp_server(make_server, rabbitmq)
    peer = await PikaPeer.connect(rabbitmq)
    try:
        messages = await peer.listen(binding="chat.room.*.message")
        guest = await clients(server.ws_url)
        await guest.call("chat.user.register", "ann", "a long password")
        ann = await clients(server.ws_url, authmethods=["ticket"], authid="ann", secret="a long password")
        await ann.call("chat.room.create", "secret", private=True)
        await ann.call("chat.message.send", "secret", "private words")
        await ann.call("chat.message.send", "lobby", "public words")
        (_, method, _, body), = await messages.take(1)
        assert (method.routing_key, json.loads(body)["args"][0]["text"]) == ("chat.room.lobby.message", "public words")
        assert metric(server, "wampchat_amqp_restricted_total") >= 1
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_without_a_broker_chat_works_and_the_outbox_is_bounded(make_server, clients):
    """With the broker unreachable, WAMP pub/sub goes on, /healthz says so, and the outbox keeps only the newest."""
    server = await make_server(["--amqp", f"amqp://u:p@127.0.0.1:{free_port()}/", "--amqp-outbox", "5",
                                "--amqp-retry-max", "1"])
    alice = await clients(server.ws_url)
    feed = Collector()
    await alice.subscribe(feed, "app.local")
    bob = await clients(server.ws_url)
    for n in range(8):
        await bob.publish("app.local", n, options=ACK)
    await feed.wait_for(8)
    assert metric(server, "wampchat_amqp_outbox") == 5
    assert metric(server, "wampchat_amqp_outbox_dropped_total") == 3
    outbox = bridge_of(server).link.outbox
    assert [json.loads(m.body)["args"] for m in outbox.pending] == [[3], [4], [5], [6], [7]]
    health = await get_json(server.http_url + "/healthz")
    assert health["status"] == "degraded" and health["amqp"]["state"] in ("down", "connecting")  # HTTP 503
    assert health["amqp"]["outbox"] == 5
    await poll_until(lambda: metric(server, "wampchat_amqp_connection_failures_total") >= 2)
