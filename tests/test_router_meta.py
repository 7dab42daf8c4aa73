"""Session meta API over real sockets: wamp.session.count/list/get and on_join/on_leave."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from helpers import Collector

SERIALIZERS = ["json", "msgpack", "cbor"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_count_list_and_get(join, serializer):
    """count and list see every joined session; get describes one; a role filter narrows them."""
    a = yield join(serializer, authextra={"nick": "Ann"})
    b = yield join(serializer)
    ids = {a.details.session, b.details.session}
    assert (yield a.call("wamp.session.count")) == 2
    assert set((yield a.call("wamp.session.list"))) == ids
    assert (yield a.call("wamp.session.count", ["guest"])) == 2
    assert (yield a.call("wamp.session.count", ["admin"])) == 0
    assert (yield a.call("wamp.session.list", ["admin"])) == []

    info = yield b.call("wamp.session.get", a.details.session)
    assert info["session"] == a.details.session
    assert info["authid"] == a.details.authid
    assert info["authrole"] == "guest"
    assert info["authmethod"] == "anonymous"
    assert info["authextra"] == {"nick": "Ann"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_get_unknown_and_bad_id(join, serializer):
    """get of an unknown id fails with wamp.error.no_such_session, a non-integer with invalid_argument."""
    a = yield join(serializer)
    with pytest.raises(ApplicationError) as info:
        yield a.call("wamp.session.get", 4242)
    assert info.value.error == "wamp.error.no_such_session"
    with pytest.raises(ApplicationError) as info:
        yield a.call("wamp.session.get", "nope")
    assert info.value.error == "wamp.error.invalid_argument"
    assert (yield a.call("wamp.session.count")) == 1  # still joined


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_on_join_and_on_leave_events(join, serializer):
    """Watchers get on_join with the session's details and on_leave with its id, authid and role."""
    watcher = yield join(serializer)
    joins, leaves = Collector(), Collector()
    yield watcher.subscribe(joins, "wamp.session.on_join")
    yield watcher.subscribe(leaves, "wamp.session.on_leave")

    other = yield join(serializer, authextra={"nick": "Zed"})
    (args, _), = yield joins.wait_for(1)
    assert args[0]["session"] == other.details.session
    assert args[0]["authid"] == other.details.authid
    assert args[0]["authrole"] == "guest"
    assert args[0]["authextra"] == {"nick": "Zed"}

    sid, authid = other.details.session, other.details.authid
    yield other.leave()
    (args, _), = yield leaves.wait_for(1)
    assert list(args) == [sid, authid, "guest"]
    assert (yield watcher.call("wamp.session.count")) == 1


@pytest_twisted.inlineCallbacks
def test_on_leave_on_abrupt_disconnect(join):
    """A session whose socket drops without GOODBYE still produces on_leave."""
    watcher = yield join()
    leaves = Collector()
    yield watcher.subscribe(leaves, "wamp.session.on_leave")
    other = yield join("cbor")
    sid = other.details.session
    other._transport.transport.abortConnection()
    (args, _), = yield leaves.wait_for(1)
    assert args[0] == sid


@pytest_twisted.inlineCallbacks
def test_meta_procedures_cannot_be_registered(join):
    """A peer cannot register a meta procedure or any wamp.* URI."""
    a = yield join()
    for uri in ("wamp.session.count", "wamp.session.mine"):
        with pytest.raises(ApplicationError) as info:
            yield a.register(lambda: 0, uri)
        assert info.value.error in ("wamp.error.invalid_uri", "wamp.error.not_authorized")
    assert (yield a.call("wamp.session.count")) == 1
