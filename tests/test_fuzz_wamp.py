"""
Property-based fuzzing of the router with Hypothesis: every WAMP message type with arbitrary field
values and types, over JSON, MessagePack and CBOR, before HELLO and after joining; garbage payloads;
a real-socket smoke run; and every ``chat.*`` procedure with arbitrary args and kwargs.

Properties, checked after every example:
- nothing is logged as an unhandled failure (twisted.logger is watched);
- a message the router refuses gets ABORT (or, for WebSocket-level faults, a close) with a reason, and
  a request it accepts gets its reply or an ERROR with an error URI, before anything sent after it;
- a session that was not refused still answers a ping-pong call, and a bystander session on the same
  router keeps working throughout.

CI runs a derandomized, bounded set (see ``wampfuzz.fuzz_settings``); set WAMPCHAT_FUZZ_EXAMPLES and
WAMPCHAT_FUZZ_RANDOM=1 to explore further.
"""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from hypothesis import assume, given
from hypothesis import strategies as st
from twisted.internet import defer, endpoints, error
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import failure

from helpers import poll_until
from wampchat import testing
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports.websocket import RouterWebSocketFactory
from wampfuzz import (ANY, VALUES, BINARY, NAMES, OBJECT_SERIALIZERS, LoggedFailures, encode, fuzz_settings, needs_reply,
                      wamp_messages)
from wsraw import BINARY as BINARY_FRAME, TEXT, ServerFrames, client_frame, upgrade_request

SERIALIZERS = ["json", "msgpack", "cbor"]
PING = 2**53 - 7  # the request id of the ping-pong call
# Nobody registers the ping's procedure, so the router itself answers it (ERROR no_such_procedure), for any role.
PING_CALL = [48, PING, {}, "app.fuzz.ping.nobody"]


def is_pong(m):
    """The router's answer to PING_CALL."""
    return m[:3] == [8, 48, PING] and m[4] == "wamp.error.no_such_procedure"
HELLO = [1, "wampchat", {"roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}},
                         "authmethods": ["anonymous"]}]
TIME_STEP = 10.0  # clock time that passes after each frame: the timers it started (call timeouts) fire


# -- the router in memory ---------------------------------------------------------------------------

class MemoryRouter:
    """A Router on a Clock with its real WebSocket factory, and a bystander session joined over it."""

    def __init__(self):
        self.clock = Clock()
        self.router = Router(self.clock, RouterConfig())
        self.factory = RouterWebSocketFactory(self.router, wamp_serializers(), max_message_size=64 * 1024,
                                              outbound_buffer=1 << 20, url="ws://127.0.0.1/ws")
        self.factory.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=0, closeHandshakeTimeout=0)
        self.bystander = self.peer("msgpack")
        self.bystander.send(HELLO)
        assert self.bystander.take()[0][0] == 2

    def peer(self, serializer):
        return MemoryPeer(self, serializer)

    def bystander_works(self):
        """The bystander's ping-pong call is answered."""
        self.bystander.send(PING_CALL)
        replies = self.bystander.take()
        assert len(replies) == 1 and is_pong(replies[0]), replies


class MemoryPeer:
    """A WebSocket peer over a StringTransport that sends WAMP as raw frames and decodes what comes back."""

    def __init__(self, memory, serializer):
        self.memory = memory
        self.serializer = serializer
        self.object_serializer = OBJECT_SERIALIZERS[serializer]()
        self.protocol = memory.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.frames = ServerFrames()
        self.send_payload(None, upgrade_request(f"wamp.2.{serializer}"))
        assert self.frames.upgraded

    def send_payload(self, payload, raw=None):
        """Send one WAMP payload as a frame of this serializer's kind (or ``raw`` bytes), then let time pass."""
        data = raw if raw is not None else client_frame(BINARY_FRAME if BINARY[self.serializer] else TEXT, payload)
        self.protocol.dataReceived(data)
        self.memory.clock.advance(TIME_STEP)
        self.frames.feed(self.transport.value())
        self.transport.clear()

    def send(self, msg):
        self.send_payload(encode(self.serializer, msg))

    def take(self):
        """The WAMP messages received since the last take."""
        self.frames.feed(self.transport.value())
        self.transport.clear()
        out = []
        for opcode, payload in self.frames.frames:
            if opcode in (TEXT, BINARY_FRAME):
                out.extend(self.object_serializer.unserialize(payload))
        self.frames.frames = [f for f in self.frames.frames if f[0] not in (TEXT, BINARY_FRAME)]
        return out

    @property
    def closed(self):
        return self.transport.disconnecting or self.frames.closed_with() is not None

    def drop(self):
        self.protocol.connectionLost(failure.Failure(error.ConnectionDone()))


@pytest.fixture(scope="module")
def memory():
    return MemoryRouter()


@pytest.fixture(scope="module")
def logged():
    with LoggedFailures() as failures:
        yield failures


def assert_refused_with_reason(replies, peer, sent):
    """ABORT with an error URI and a message (then the connection closes), or a WebSocket close with a reason."""
    aborts = [m for m in replies if m and m[0] == 3]
    if aborts:
        details, reason = aborts[-1][1], aborts[-1][2]
        assert isinstance(reason, str) and reason.startswith(("wamp.error.", "wampchat.error.")), aborts
        assert isinstance(details.get("message"), str) and details["message"], aborts
        assert peer.closed, "ABORT must end the connection (a close frame or TCP)"
        return
    code = peer.frames.closed_with()
    assert code is not None, f"{NAMES.get(sent[0], sent[0])} got neither ABORT nor a close: {replies}"
    assert code in (1002, 1007, 1009), code


def assert_answered(replies, msg):
    """A request the router kept the session for was answered with its reply or an ERROR carrying an error URI."""
    expected = needs_reply(msg)
    if expected is None:
        assert replies == [], f"no reply expected to {msg!r}, got {replies!r}"
        return
    request, reply_type = expected
    assert len(replies) == 1, replies
    [reply] = replies
    if reply[0] == 8:
        assert reply[1] == msg[0] and reply[2] == request, reply
        assert isinstance(reply[4], str) and reply[4].count(".") >= 2, reply
    else:
        assert reply[0] == reply_type and reply[1] == request, reply


def check_session_after(peer, msg, replies):
    """The outcome of one fuzzed message to a joined session, then the ping-pong and the bystander."""
    if peer.closed:
        if msg[0] in (3, 6) and not any(m[0] == 3 for m in replies):
            return  # the peer said ABORT or GOODBYE itself: the router closes (GOODBYE is answered)
        assert_refused_with_reason(replies, peer, msg)
        return
    assert_answered(replies, msg)
    peer.send(PING_CALL)
    replies = peer.take()
    assert len(replies) == 1 and is_pong(replies[0]), replies


def finish(memory, peer, logged):
    """Drop the fuzzed peer; the bystander still works and nothing was logged as a failure."""
    peer.drop()
    memory.bystander_works()
    assert logged.take() == []


# (pytest-twisted wraps a Hypothesis test in place, so a parametrized one would be wrapped twice: the
# serializer is drawn by Hypothesis instead.)
@fuzz_settings(600)
@given(msg=wamp_messages(), serializer=st.sampled_from(SERIALIZERS))
def test_any_message_after_joining(memory, logged, serializer, msg):
    """Any message from a joined session is answered, refused with a reason, or (if it needs none) dropped."""
    payload = encode(serializer, msg)
    assume(payload is not None)
    peer = memory.peer(serializer)
    peer.send(HELLO)
    assert peer.take()[0][0] == 2
    peer.send_payload(payload)
    check_session_after(peer, msg, peer.take())
    finish(memory, peer, logged)


@fuzz_settings(400)
@given(msg=wamp_messages(), serializer=st.sampled_from(SERIALIZERS))
def test_any_message_before_hello(memory, logged, serializer, msg):
    """Before HELLO, anything but a good HELLO gets ABORT with a reason; a good one gets WELCOME or CHALLENGE."""
    payload = encode(serializer, msg)
    assume(payload is not None)
    peer = memory.peer(serializer)
    peer.send_payload(payload)
    replies = peer.take()
    if replies and replies[0][0] in (2, 4) and msg[0] == 1:
        assert not peer.closed
    elif msg[0] == 3 and not replies:
        assert peer.closed  # the peer said ABORT itself: the router just closes
    else:
        assert_refused_with_reason(replies, peer, msg)
    finish(memory, peer, logged)


@fuzz_settings(300)
@given(payload=st.binary(max_size=64), joined=st.booleans(), serializer=st.sampled_from(SERIALIZERS))
def test_garbage_payloads(memory, logged, serializer, payload, joined):
    """Bytes that are not a WAMP message get ABORT or a close with a reason; the bystander carries on."""
    peer = memory.peer(serializer)
    if joined:
        peer.send(HELLO)
        peer.take()
    peer.send_payload(payload)
    replies = peer.take()
    if not peer.closed:  # by chance a message that needs no reply (e.g. PUBLISH) or a reply-worthy one
        decoded = OBJECT_SERIALIZERS[serializer]().unserialize(payload)
        assert joined and len(decoded) == 1, (payload, replies)
        check_session_after(peer, decoded[0], replies)
    else:
        assert_refused_with_reason(replies, peer, [None])
    finish(memory, peer, logged)


# -- a real-socket smoke run ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The real service tree (chat service included) on 127.0.0.1:0, shared by the real-socket fuzz tests."""
    running = pytest_twisted.blockon(testing.start_server(["--send-rate", "100000"],
                                                          tmp_path_factory.mktemp("fuzz")))
    yield running
    pytest_twisted.blockon(running.stop())


class TcpPeer:
    """A raw WebSocket peer over a real TCP socket (the frames as in MemoryPeer)."""

    def __init__(self, serializer, client):
        self.serializer = serializer
        self.client = client
        self.object_serializer = OBJECT_SERIALIZERS[serializer]()

    def send(self, msg):
        kind = BINARY_FRAME if BINARY[self.serializer] else TEXT
        self.client.transport.write(client_frame(kind, encode(self.serializer, msg)))

    def messages(self):
        return [m for op, p in self.client.frames.frames if op in (TEXT, BINARY_FRAME)
                for m in self.object_serializer.unserialize(p)]


@defer.inlineCallbacks
def tcp_peer(server, serializer):
    from twisted.internet import reactor

    from test_ws_conformance import RawClient

    client = RawClient()
    yield endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.port), client)
    client.transport.write(upgrade_request(f"wamp.2.{serializer}"))
    yield poll_until(lambda: client.frames.upgraded, timeout=10)
    peer = TcpPeer(serializer, client)
    peer.send(HELLO)
    yield poll_until(lambda: peer.messages(), timeout=10)
    assert peer.messages()[0][0] == 2
    return peer


@pytest.fixture(scope="module")
def live_bystander(live):
    return pytest_twisted.blockon(testing.connect(live.ws_url, serializer="cbor"))


@fuzz_settings(40)
@given(msg=wamp_messages(), serializer=st.sampled_from(SERIALIZERS))
@pytest_twisted.inlineCallbacks
def test_real_socket_smoke(live, live_bystander, logged, msg, serializer):
    """Over TCP to the real tree: a fuzzed message, then a ping; either the ping is answered or the session
    was refused with a reason; the bystander answers throughout."""
    assume(encode(serializer, msg) is not None)
    peer = yield tcp_peer(live, serializer)
    peer.send(msg)
    peer.send(PING_CALL)
    frames = peer.client.frames

    def settled():
        return frames.closed_with() is not None or peer.client.lost.called or any(
            is_pong(m) for m in peer.messages()[1:]) or any(m[0] == 3 for m in peer.messages())

    yield poll_until(settled, timeout=10)
    replies = peer.messages()[1:]
    aborts = [m for m in replies if m[0] == 3]
    if aborts:
        assert aborts[-1][2].startswith("wamp.error.") and aborts[-1][1].get("message")
    elif not any(is_pong(m) for m in replies):
        assert msg[0] in (3, 6) or frames.closed_with() in (1002, 1007, 1009), (msg, replies)
    peer.client.transport.loseConnection()
    yield live_bystander.publish("app.fuzz.alive", options=PublishOptions(acknowledge=True))
    assert logged.take() == []


# -- every chat.* procedure with arbitrary arguments -------------------------------------------------

CHAT_PROCEDURES = [
    "chat.user.register", "chat.user.me", "chat.room.create", "chat.room.list", "chat.room.join",
    "chat.room.leave", "chat.room.invite", "chat.room.members", "chat.dm.open", "chat.message.send",
    "chat.message.history", "chat.message.edit", "chat.message.delete", "chat.typing", "chat.read",
    "chat.message.search", "chat.message.react",
    "chat.user.update", "chat.user.change_password", "chat.user.export", "chat.user.delete",
    "chat.room.set_role", "chat.room.update", "chat.admin.audit",
    "chat.room.kick", "chat.room.ban", "chat.room.unban", "chat.room.bans", "chat.room.mute", "chat.room.unmute",
    "chat.admin.ban", "chat.admin.unban", "chat.admin.bans", "chat.message.report", "chat.admin.reports",
    "chat.admin.resolve", "chat.message.pin", "chat.room.pins", "chat.room.notify", "chat.dm.open_group",
    "chat.message.thread", "chat.file.upload", "chat.file.url", "chat.user.create_token", "chat.user.tokens",
    "chat.user.revoke_token", "chat.room.webhook_create", "chat.room.webhooks", "chat.room.webhook_delete",
]
# huge, negative, fractional, empty and oversize values: each must be an invalid_argument, never a failure
# (every one fits MessagePack, which the chatters speak: integers from -2**63 to 2**64-1)
EXTREMES = st.sampled_from([2 ** 64 - 1, 2 ** 63, 2 ** 63 - 1, -1, -2 ** 63, 10 ** 18, 0.5, -0.0, 1e308, "x" * 100_000,
                            " " * 5000 + "x", "\x00", "😀" * 5000, [], {}, [None], {"a": {"b": [1]}}, None])
PLAUSIBLE = st.one_of(st.sampled_from(["lobby", "fuzzroom", "ann", "guest_00000000", "dm_ann_bob", "x" * 70, "",
                                       "a long password", "hello", "00000000000000000abc", True, 0, 50]), VALUES,
                      EXTREMES)
CHAT_KWARGS = st.dictionaries(
    st.sampled_from(["title", "private", "client_msg_id", "before", "after", "limit", "display_name", "room",
                     "on", "details", "typing", "changed_after", "query", "emoji", "text", "username",
                     "message_id", "room_id", "password", "reason", "duration", "level", "usernames", "root_id",
                     "reply_to", "files", "name", "size", "content_type", "file_id", "resolution", "open",
                     "report_id", "topic", "read_only", "slow_mode", "retention_days", "role"]), PLAUSIBLE, max_size=3)


def test_the_chat_fuzz_calls_every_chat_procedure(live):
    """The list the fuzz draws from is every chat.* procedure the node registers, so none is left out."""
    registered = {reg.uri for reg in live.router.realm("wampchat").dealer._by_id.values()
                  if reg.uri.startswith("chat.")}
    assert registered == set(CHAT_PROCEDURES)


class Chatter:
    """Fresh guest sessions for the chat fuzz (one per example, so a failure names its own example)."""

    def __init__(self, server):
        self.server = server
        self.count = 0

    @defer.inlineCallbacks
    def join(self):
        self.count += 1
        session = yield testing.connect(self.server.ws_url, serializer="msgpack",
                                        authextra={"nick": f"Fuzzer{self.count}"})
        yield session.call("chat.room.join", "lobby")  # so room calls go past the membership checks
        return session


@pytest.fixture(scope="module")
def chatters(live):
    return Chatter(live)


@fuzz_settings(250)
@given(procedure=st.sampled_from(CHAT_PROCEDURES), args=st.lists(PLAUSIBLE, max_size=4), kwargs=CHAT_KWARGS)
@pytest_twisted.inlineCallbacks
def test_chat_procedures_with_arbitrary_arguments(live, chatters, live_bystander, logged, procedure, args, kwargs):
    """Each chat.* call returns a result or an ERROR with a wampchat./wamp. URI, the caller's session stays,
    and nothing is logged as a failure."""
    chatter = yield chatters.join()
    try:
        yield chatter.call(procedure, *args, **kwargs)
    except ApplicationError as e:
        assert chatter.close_details is None, f"the session was ended: {chatter.close_details}"
        assert e.error.startswith(("wampchat.error.", "wamp.error.")), e
        assert e.error != "wampchat.error.unavailable", f"an unexpected failure inside {procedure}: {e}"
    assert chatter.is_attached()
    chatter.leave()
    yield chatter.left
    yield live_bystander.publish("app.fuzz.alive", options=PublishOptions(acknowledge=True))
    assert logged.take() == []


EXTREME_VALUES = [2 ** 64 - 1, 2 ** 63, -1, -2 ** 63, 0.5, 1e308, "x" * 100_000, " " * 5000 + "x", "\x00",
                  "😀" * 5000, [], {}, [None], True]


def _parameters(live, procedure):
    """The names of ``procedure``'s parameters, from the function the chat service registered."""
    import inspect

    for reg in live.router.realm("wampchat").dealer._by_id.values():
        if reg.uri == procedure:
            return [name for name in inspect.signature(reg.local.fn).parameters if name != "details"]
    raise AssertionError(f"{procedure} is not registered")


@pytest_twisted.inlineCallbacks
def test_every_chat_parameter_refuses_extreme_values(live, chatters, logged):
    """Every parameter of every chat.* procedure, given each extreme value (the others plausible), is
    answered with a result or an error the caller can act on: never ``unavailable``, never a logged failure."""
    chatter = yield chatters.join()
    plausible = {"room_id": "lobby", "room": "lobby", "username": "ann", "text": "hi", "query": "hi",
                 "emoji": "x", "message_id": "00000000000000000abc", "password": "a long password"}
    calls = 0
    for procedure in CHAT_PROCEDURES:
        names = _parameters(live, procedure)
        for name in names:
            for value in EXTREME_VALUES:
                kwargs = {other: plausible[other] for other in names if other in plausible and other != name}
                kwargs[name] = value
                calls += 1
                try:
                    yield chatter.call(procedure, **kwargs)
                except ApplicationError as e:
                    assert e.error.startswith(("wampchat.error.", "wamp.error.")), (procedure, name, value, e)
                    assert e.error != "wampchat.error.unavailable", (procedure, name, repr(value)[:40], e)
                assert chatter.is_attached(), (procedure, name, repr(value)[:40])
    assert calls > 300 and logged.take() == []


# -- across serializers: what one peer sends, a peer speaking another serializer must receive --------

@pytest.fixture(scope="module")
def callees(memory):
    """One joined callee per serializer, each registered as app.fuzz.echo.<serializer>."""
    peers = {}
    for serializer in SERIALIZERS:
        peer = memory.peer(serializer)
        peer.send(HELLO)
        peer.send([64, 1, {}, f"app.fuzz.echo.{serializer}"])
        assert [m[0] for m in peer.take()] == [2, 65]
        peers[serializer] = peer
    return peers


def answer_invocations(callee):
    """The callee YIELDs every INVOCATION's arguments back; how many it answered."""
    invocations = [m for m in callee.take() if m[0] == 68]
    for invocation in invocations:
        callee.send([70, invocation[1], {}] + invocation[4:])
    return len(invocations)


@fuzz_settings(300)
@given(args=st.lists(ANY, max_size=3), kwargs=st.dictionaries(st.text(max_size=6), ANY, max_size=2),
       caller_serializer=st.sampled_from(SERIALIZERS), callee_serializer=st.sampled_from(SERIALIZERS))
def test_calls_across_serializers(memory, callees, logged, args, kwargs, caller_serializer, callee_serializer):
    """A call whose arguments the callee's serializer cannot carry is answered with an ERROR, not left hanging;
    one it can carry comes back as a RESULT with the callee's answer."""
    msg = [48, 7, {}, f"app.fuzz.echo.{callee_serializer}", args, kwargs]
    payload = encode(caller_serializer, msg)
    assume(payload is not None)
    caller = memory.peer(caller_serializer)
    caller.send(HELLO)
    caller.take()
    caller.send_payload(payload)
    answered = answer_invocations(callees[callee_serializer])
    replies = caller.take()
    if caller.closed:
        assert_refused_with_reason(replies, caller, msg)
    else:
        assert len(replies) == 1 and replies[0][0] in (8, 50) and replies[0][-3 if replies[0][0] == 8 else 1] \
            in (48, 7), replies
        if replies[0][0] == 50:
            assert answered == 1
    finish(memory, caller, logged)


@pytest.fixture(scope="module")
def subscribers(memory):
    """One joined subscriber per serializer on app.fuzz.fanout."""
    peers = {}
    for serializer in SERIALIZERS:
        peer = memory.peer(serializer)
        peer.send(HELLO)
        peer.send([32, 1, {}, "app.fuzz.fanout"])
        assert [m[0] for m in peer.take()] == [2, 33]
        peers[serializer] = peer
    return peers


@fuzz_settings(300)
@given(args=st.lists(ANY, max_size=3), kwargs=st.dictionaries(st.text(max_size=6), ANY, max_size=2),
       serializer=st.sampled_from(SERIALIZERS))
def test_publications_across_serializers(memory, subscribers, logged, args, kwargs, serializer):
    """An acknowledged publication reaches the subscriber of every serializer with the same arguments, or the
    publisher is refused with a reason; no subscriber is harmed either way."""
    msg = [16, 9, {"acknowledge": True, "exclude_me": False}, "app.fuzz.fanout", args, kwargs]
    payload = encode(serializer, msg)
    assume(payload is not None)
    publisher = memory.peer(serializer)
    publisher.send(HELLO)
    publisher.take()
    publisher.send_payload(payload)
    replies = publisher.take()
    events = {name: [m for m in peer.take() if m[0] == 36] for name, peer in subscribers.items()}
    if publisher.closed:
        assert_refused_with_reason(replies, publisher, msg)
        assert events == {name: [] for name in SERIALIZERS}
    else:
        assert [m[:2] for m in replies] == [[17, 9]], replies
        payloads = {name: got[0][4:] for name, got in events.items() if len(got) == 1}
        assert set(payloads) == set(SERIALIZERS), events
        assert payloads["json"] == payloads["msgpack"] == payloads["cbor"]
    assert not any(peer.closed for peer in subscribers.values())
    finish(memory, publisher, logged)
