"""The router's inbound fast path over a real socket: several frames in one read, frames split across reads."""
import pytest_twisted
from twisted.internet import task

from test_router_badinput import joined_raw, within

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)


@pytest_twisted.inlineCallbacks
def test_batched_and_split_frames_are_all_handled(server):
    """Three CALLs written as one blob, its last frame cut in two and sent a reactor turn later, all get answers
    (ERROR no_such_procedure, which the router sends by itself)."""
    from twisted.internet import reactor

    raw = yield joined_raw(server)
    captured = []
    real_write = raw.transport.write
    raw.transport.write = captured.append
    for request in (1, 2, 3):
        raw.send_wamp([48, request, {}, "app.framing.nobody"])
    raw.transport.write = real_write
    blob = b"".join(captured)
    cut = len(blob) - 5
    raw.transport.write(blob[:cut])
    yield task.deferLater(reactor, 0, lambda: None)
    raw.transport.write(blob[cut:])
    messages = yield within(raw.wait_for(4))
    answers = [m for m in messages if m[0] == 8]
    assert sorted(m[2] for m in answers) == [1, 2, 3]
    assert all(m[4] == "wamp.error.no_such_procedure" for m in answers)
    raw.sendClose()
    yield within(raw.closed)
