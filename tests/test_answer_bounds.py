"""Every answer is bounded in bytes as well as in count, and a peer that stops reading large answers is dropped
like any slow consumer, so the node's memory stays bounded (the outside review's 52 MB joins)."""
import json
import socket
import time

import pytest
import pytest_twisted

from chatkit import make_world  # noqa: F401 (fixture)
from processes import ServerProcess
from wampchat.storage.chat.messages import ANSWER_BUDGET
from wsraw import HELLO, ServerFrames, text, upgrade_request

LONG = 4000
WORDS = "budget " * (LONG // 7)   # every message is found by a search for "budget", and is LONG-ish long


def _size(value):
    return len(json.dumps(value, ensure_ascii=False).encode())


@pytest_twisted.inlineCallbacks
def fill(session, room, count, width=LONG):
    """``count`` messages of ``width`` characters (4-byte characters: the worst case for UTF-8) in ``room``."""
    sent = []
    for n in range(count):
        body = (f"budget {n} " + "😀" * width)[:width]
        sent.append((yield session.call("chat.message.send", room, body)))
    return sent


@pytest_twisted.inlineCallbacks
def test_history_join_and_search_are_bounded_in_bytes(make_world):
    """200 messages of 4000 emoji are about 3.2 MB: a page, a join and a search each carry at most about half
    a MiB of them, say ``more``, and paging on reaches every message exactly once."""
    world = yield make_world(["--send-rate", "100000"])
    ann = yield world.user("ann")
    sent = yield fill(ann, "lobby", 200)
    page = yield ann.call("chat.message.history", "lobby", limit=200)
    assert page["more"] and 0 < len(page["messages"]) < 200
    assert _size(page) <= ANSWER_BUDGET + 64 * 1024
    assert page["messages"][-1]["id"] == sent[-1]["id"]          # the newest are kept, oldest first
    seen = [m["id"] for m in page["messages"]]
    deadline = time.monotonic() + 60
    while page["more"] and time.monotonic() < deadline:
        page = yield ann.call("chat.message.history", "lobby", before=seen[0], limit=200)
        assert _size(page) <= ANSWER_BUDGET + 64 * 1024
        seen = [m["id"] for m in page["messages"]] + seen
    assert seen == [m["id"] for m in sent]

    joined = yield ann.call("chat.room.join", "lobby")
    assert _size(joined) <= ANSWER_BUDGET + 64 * 1024 and joined["more"]
    found = yield ann.call("chat.message.search", "budget", limit=100)
    assert _size(found) <= ANSWER_BUDGET + 64 * 1024 and found["more"] and len(found["messages"]) < 100
    after = yield ann.call("chat.message.history", "lobby", after=sent[0]["id"], limit=200)
    assert after["more"] and after["messages"][0]["id"] == sent[1]["id"]


@pytest_twisted.inlineCallbacks
def test_member_lists_page_by_username(make_world):
    """chat.room.members takes ``after`` and ``limit`` (at most 1000), so no list grows without bound."""
    world = yield make_world()
    for name in ("ann", "bob", "cid"):
        session = yield world.user(name)
        yield session.call("chat.room.join", "lobby")
    first = yield session.call("chat.room.members", "lobby", limit=2)
    rest = yield session.call("chat.room.members", "lobby", after=first[-1]["user"], limit=2)
    assert [m["user"] for m in first + rest] == ["ann", "bob", "cid"]
    joined = yield session.call("chat.room.join", "lobby")
    assert joined["members_more"] is False and len(joined["members"]) == 3


def _reader_that_stops(port, calls, room, limit):
    """A raw WebSocket guest that asks for ``calls`` large history pages and never reads the answers."""
    client = _BlockingClient(port, receive_buffer=4096)
    sock = client.sock
    sock.setblocking(False)
    for request in range(1, calls + 1):
        try:
            sock.sendall(text([48, request, {}, "chat.message.history", [room], {"limit": limit}]))
        except (BlockingIOError, ConnectionError):
            break   # the node stopped reading us, or dropped us: either way it holds nothing more of ours
    return sock


def _dropped(sock):
    """True once the node has closed this connection (reading what is left until EOF or a reset)."""
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


@pytest.mark.timeout(240)
def test_peers_that_stop_reading_large_answers_are_dropped_and_memory_stays_bounded(tmp_path):
    """20 clients each ask for 60 pages of the largest history (30 MB each) and read nothing: the outbound
    budget drops every one of them, the node's RSS grows by far less than what they asked for, and it still
    serves."""
    server = ServerProcess("bounded", ["--db", str(tmp_path / "b.sqlite"), "--send-rate", "100000",
                                       "--outbound-buffer", "1048576"], tmp_path).start()
    try:
        filler = _BlockingClient(server.port)
        for n in range(50):
            filler.call("chat.message.send", ["lobby", (f"m{n} " + "😀" * LONG)[:LONG]])
        before = server.rss_kb()
        calls = 60
        clients = [_reader_that_stops(server.port, calls, "lobby", 50) for _ in range(20)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(_dropped(c) for c in clients):
            time.sleep(0.2)  # polling the sockets' state, with a deadline
        assert all(_dropped(c) for c in clients), "a peer that stopped reading was never dropped"
        grown_mb = (server.rss_kb() - before) / 1024
        asked_mb = 20 * calls * ANSWER_BUDGET / (1 << 20)
        assert grown_mb < asked_mb / 5, f"RSS grew by {grown_mb:.0f} MB for {asked_mb:.0f} MB of unread answers"
        print(f"RSS grew by {grown_mb:.0f} MB for {asked_mb:.0f} MB of unread answers")
        assert _BlockingClient(server.port).call("chat.message.history", ["lobby"], {"limit": 1})["messages"]
        for c in clients:
            c.close()
    finally:
        server.stop()


class _BlockingClient:
    """A blocking raw WebSocket WAMP client (guest) for filling a room from outside the reactor."""

    def __init__(self, port, receive_buffer=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.sendall(upgrade_request())
        self.frames = ServerFrames()
        self.request = 0
        self._wait(lambda: self.frames.upgraded)
        self.sock.sendall(text(HELLO))
        self._wait(lambda: self._messages())

    def _messages(self):
        return [json.loads(payload) for opcode, payload in self.frames.frames if opcode == 1]

    def _wait(self, condition):
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, "no answer from the node"
            self.frames.feed(self.sock.recv(1 << 20))

    def call(self, procedure, args, kwargs=None):
        self.request += 1
        request = self.request
        self.sock.sendall(text([48, request, {}, procedure, args, kwargs or {}]))
        self._wait(lambda: any(m[0] in (50, 8) and m[1 if m[0] == 50 else 2] == request for m in self._messages()))
        answer = [m for m in self._messages() if m[0] in (50, 8) and m[1 if m[0] == 50 else 2] == request][0]
        assert answer[0] == 50, answer
        return answer[3][0]
