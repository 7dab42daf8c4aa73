"""A server process killed mid-storm loses no acknowledged message; connection churn does not grow memory."""
import pytest_twisted
from twisted.internet import defer

from helpers import poll_until
from processes import ServerProcess, processes  # noqa: F401 (fixture)
from wampchat.testing import connect


def server_process(processes, tmp_path, db, name="server", *extra):
    process = ServerProcess(name, ["--db", db, "--send-rate", "100000", *extra], tmp_path)
    processes.append(process)
    return process.start()


@pytest_twisted.ensureDeferred
async def test_kill_9_during_a_send_storm_then_restart_keeps_every_acknowledged_message_once(
        processes, tmp_path, db_url):
    """SIGKILL while four senders write; on the same database, a new server has every message whose send
    returned, each once, and nothing twice."""
    server = server_process(processes, tmp_path, db_url)
    acknowledged = []

    async def storm(name):
        session = await connect(server.ws_url, authmethods=["anonymous"], authextra={"nick": name})
        for i in range(100_000):
            try:
                msg = await session.call("chat.message.send", "lobby", f"{name} {i}", client_msg_id=f"{name}-{i}")
            except Exception:  # the connection dies with the server: that is the point
                return
            acknowledged.append(msg["id"])

    senders = [defer.ensureDeferred(storm(f"s{n}")) for n in range(4)]
    await poll_until(lambda: len(acknowledged) >= 300, timeout=60)
    server.kill()
    await defer.gatherResults(senders)
    again = server_process(processes, tmp_path, db_url, "again")
    reader = await connect(again.ws_url, authmethods=["anonymous"], authextra={"nick": "Reader"})
    stored, last = [], "0" * 18
    while True:
        page = await reader.call("chat.message.history", "lobby", after=last, limit=200)
        if not page["messages"]:
            break
        stored += page["messages"]
        last = page["messages"][-1]["id"]
    ids = [m["id"] for m in stored]
    assert len(ids) == len(set(ids)) and set(acknowledged) <= set(ids)
    keys = [m["client_msg_id"] for m in stored]
    assert len(keys) == len(set(keys))
    reader.leave()


@pytest_twisted.ensureDeferred
async def test_a_thousand_connect_join_leave_cycles_leave_memory_where_it_was(processes, tmp_path, db_url):
    """After warming up, 1,000 guests (ten at a time) that connect, join the lobby, say something and leave
    grow the server's RSS by no more than a few MB."""
    server = server_process(processes, tmp_path, db_url)

    async def cycles(count, offset):
        for i in range(count):
            session = await connect(server.ws_url, authmethods=["anonymous"], authextra={"nick": f"g{offset + i}"})
            await session.call("chat.room.join", "lobby")
            await session.call("chat.message.send", "lobby", "hi")
            session.leave()
            await session.closed

    await defer.gatherResults([defer.ensureDeferred(cycles(15, 100 * n)) for n in range(10)])
    before = server.rss_kb()
    await defer.gatherResults([defer.ensureDeferred(cycles(100, 10_000 + 1000 * n)) for n in range(10)])
    await poll_until(lambda: server.health()["sessions"] == 0, timeout=30)
    grown_mb = (server.rss_kb() - before) / 1024
    assert grown_mb < 4, f"RSS grew by {grown_mb:.1f} MB over 1,000 cycles"
