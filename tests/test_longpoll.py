"""WAMP over HTTP long-poll at /lp (API §11): a raw HTTP client, AutobahnJS in Node, and every limit."""
import json

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from chatkit import PASSWORD, make_world, world  # noqa: F401 (fixtures)
from longpoll_client import HELLO_AS_GUEST, LongPollClient, post
from nodejs import NODE, have_node_module, spawn_node

OTHER_ADDRESS = ("127.0.0.2", 0)   # Linux answers all of 127/8 on lo: a second client address


def transports(world):
    return world.server.service.longpoll


@defer.inlineCallbacks
def until(condition, what, timeout=10.0):
    """Poll ``condition()`` every 50 ms until it is true; fail after ``timeout`` seconds."""
    deadline = reactor.seconds() + timeout
    while not condition():
        assert reactor.seconds() < deadline, f"timed out waiting until {what}"
        yield task.deferLater(reactor, 0.05, lambda: None)


@pytest_twisted.inlineCallbacks
def test_a_raw_client_joins_calls_and_leaves(world):
    """open, HELLO -> WELCOME, CALL chat.user.me -> RESULT, GOODBYE -> GOODBYE, close; then the id is gone."""
    client = LongPollClient(world.server.http_url)
    answer = yield client.open()
    assert answer["protocol"] == "wamp.2.json" and len(answer["transport"]) >= 32
    yield client.send(HELLO_AS_GUEST)
    welcome = yield client.receive()
    assert welcome[0] == 2 and welcome[2]["authrole"] == "guest"
    yield client.send([48, 1, {}, "chat.user.me"])
    result = yield client.receive()
    assert result[:2] == [50, 1] and result[3][0]["nick"] == "Lou" and result[3][0]["role"] == "guest"
    yield client.send([6, {}, "wamp.close.close_realm"])
    assert (yield client.receive())[0] == 6
    code, _ = yield client.request("close")
    assert code == 204
    code, _ = yield client.request("receive")
    assert code == 404


@pytest_twisted.inlineCallbacks
def test_the_session_has_the_client_address_and_the_batched_protocol_answers_all_at_once(world):
    """The meta API shows the client's address as the peer; wamp.2.json.batched ends each message with \\x18."""
    client = LongPollClient(world.server.http_url)
    answer = yield client.open(["wamp.2.json.batched", "wamp.2.json"])
    assert answer["protocol"] == "wamp.2.json.batched"
    yield client.request("send", json.dumps(HELLO_AS_GUEST).encode() + b"\x18")
    code, body = yield client.request("receive")
    assert code == 200 and body.endswith(b"\x18")
    session_id = json.loads(body[:-1])[1]
    peers = [s.transport_peer() for s in world.server.router.realm("wampchat").all_sessions()
             if s.info.id == session_id]
    assert len(peers) == 1 and peers[0].startswith("tcp4:127.0.0.1:")
    two_calls = b"".join(json.dumps([48, n, {}, "chat.user.me"]).encode() + b"\x18" for n in (1, 2))
    yield client.request("send", two_calls)
    received = b""
    while received.count(b"\x18") < 2:
        code, body = yield client.request("receive")
        received += body
    assert [json.loads(part)[:2] for part in received.split(b"\x18")[:2]] == [[50, 1], [50, 2]]


@pytest_twisted.inlineCallbacks
def test_a_transport_id_from_another_address_or_made_up_is_404(world):
    client = LongPollClient(world.server.http_url)
    yield client.join_as_guest()
    for action in ("receive", "send", "close"):
        code, _ = yield client.request(action, json.dumps([48, 1, {}, "chat.user.me"]).encode(), bind=OTHER_ADDRESS)
        assert code == 404, action
    code, _ = yield post(world.server.http_url, "/lp/" + "x" * 32 + "/receive")
    assert code == 404
    code, _ = yield client.request("close")
    assert code == 204   # the owner still has it


@pytest_twisted.inlineCallbacks
def test_an_idle_transport_is_closed_and_its_session_ends(world):
    lp = transports(world)
    lp.idle_timeout = 0.3
    sessions = world.server.router.metrics.sessions
    before = sessions.value
    client = LongPollClient(world.server.http_url)
    yield client.join_as_guest()
    assert sessions.value == before + 1
    yield until(lambda: sessions.value == before, "the idle session ended")
    code, _ = yield client.request("receive")
    assert code == 404


@pytest_twisted.inlineCallbacks
def test_a_client_that_stops_polling_is_dropped_at_the_queue_bound(world):
    """Answers queued for a client that does not poll are bounded: past it the transport closes."""
    lp = transports(world)
    lp.max_queued_messages = 5
    client = LongPollClient(world.server.http_url)
    yield client.join_as_guest()
    dropped = world.server.router.metrics.slow_consumers.value
    for n in range(1, 8):
        code, _ = yield client.request("send", json.dumps([48, n, {}, "chat.user.me"]).encode())
    yield until(lambda: world.server.router.metrics.slow_consumers.value == dropped + 1, "the client was dropped")
    code, _ = yield client.request("receive")
    assert code == 404


@pytest_twisted.inlineCallbacks
def test_oversize_bodies_bad_requests_and_foreign_origins_are_refused(world):
    base = world.server.http_url
    client = LongPollClient(base)
    yield client.join_as_guest()
    code, _ = yield client.request("send", b"[" + b" " * (1024 * 1024) + b"]")
    assert code == 413
    for bad in (b"not json", b"[]", b'{"protocols": "wamp.2.json"}', b"\xff"):
        code, _ = yield post(base, "/lp/open", bad)
        assert code == 400, bad
    code, _ = yield post(base, "/lp/open", json.dumps({"protocols": ["wamp.2.msgpack"]}).encode())
    assert code == 400
    code, _ = yield post(base, "/lp/open", b'{"protocols": ["wamp.2.json"]}', {"Origin": ["https://evil.example"]})
    assert code == 403
    code, _ = yield post(base, "/lp/open", b'{"protocols": ["wamp.2.json"]}', {"Origin": [base]})
    assert code == 200
    code, _ = yield post(base, "/lp/nonsense")
    assert code == 404


@pytest.mark.parametrize("body", [b"[48, not json", b"\xff\xfe", b"", b"{}", b"[48, 1, {}, 7]"])
@pytest_twisted.inlineCallbacks
def test_a_bad_message_ends_the_session_with_a_protocol_violation(world, body):
    client = LongPollClient(world.server.http_url)
    yield client.join_as_guest()
    code, _ = yield client.request("send", body)
    assert code == 204
    abort = yield client.receive()
    assert abort[0] == 3 and abort[2] == "wamp.error.protocol_violation"


@pytest_twisted.inlineCallbacks
def test_transports_count_against_the_per_address_cap(make_world):
    w = yield make_world(["--max-connections-per-address", "3"])
    codes = []
    for _ in range(4):
        code, _ = yield post(w.server.http_url, "/lp/open", b'{"protocols": ["wamp.2.json"]}')
        codes.append(code)
    # each open request is itself one connection while it is served
    assert codes[:2] == [200, 200] and 429 in codes[2:], codes


@pytest.mark.skipif(NODE is None or not have_node_module("autobahn"),
                    reason="needs node and `npm ci` in tests/js (make test does both)")
@pytest_twisted.inlineCallbacks
def test_autobahn_js_over_long_poll_logs_in_calls_and_gets_events_from_websocket(world):
    """AutobahnJS in Node with only its longpoll transport: ticket login, chat.user.me, and an event that a
    WebSocket client's message causes."""
    yield world.register("ann")
    bob = yield world.user("bob")
    yield bob.call("chat.room.join", "lobby")
    node = spawn_node("longpoll_flow.js", [world.server.http_url + "/lp", "ann", PASSWORD], timeout=60)
    ready = yield node.wait_for_line(lambda line: "subscribed" in line)
    assert ready["me"]["user"] == "ann" and ready["transport"] == "longpoll"
    yield bob.call("chat.message.send", "lobby", "hello over long-poll")
    heard = yield node.wait_for_line(lambda line: "event" in line)
    assert heard["event"]["text"] == "hello over long-poll" and heard["event"]["user"] == "bob"
    code = yield node.ended
    assert code == 0, node.report()
    history = yield bob.call("chat.message.history", "lobby")
    assert "ann says hi back" in [m["text"] for m in history["messages"]]


@pytest_twisted.inlineCallbacks
def test_a_stopping_node_ends_its_transports_and_opens_no_more(world):
    """A request on a connection kept alive past the stop must not reach a router that no longer answers."""
    client = LongPollClient(world.server.http_url)
    yield client.join_as_guest()
    transports(world).close_all()
    code, _ = yield client.request("receive")
    assert code == 404
    code, _ = yield post(world.server.http_url, "/lp/open", b'{"protocols": ["wamp.2.json"]}')
    assert code == 503
