"""Session meta API over real sockets: wamp.session.count/list/get, on_join/on_leave, and who sees peer addresses."""
import json

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError

from helpers import Collector
from wampchat.router.credentials import make_credentials

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

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


# -- privacy: only admin and service see a session's transport (peer address) --------------------

PASSWORDS = {"root": "root-pw", "alice": "alice-pw", "worker": "worker-pw"}


@pytest.fixture(scope="module")
def user_entries():
    """Config-file users root (admin), alice (user) and worker (service); hashing is slow, so once per module."""
    roles = {"root": "admin", "alice": "user", "worker": "service"}
    return [make_credentials(name, PASSWORDS[name], roles[name]).__dict__ for name in roles]


@pytest.fixture
def with_users(make_server, tmp_path, user_entries):
    """A server whose config file knows root, alice and worker."""
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": user_entries}))
    return pytest_twisted.blockon(make_server(["--config", str(path)]))


@pytest.fixture
def login(with_users, clients):
    """Join ``with_users`` as a config user (ticket) or, with no name, as a guest."""

    def login(name=None, serializer="json"):
        if name is None:
            return clients(with_users.ws_url, serializer=serializer)
        return clients(with_users.ws_url, serializer=serializer, authmethods=["ticket"], authid=name,
                       secret=PASSWORDS[name])

    return login


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_get_shows_transport_only_to_admin_and_service(login, serializer):
    """wamp.session.get includes the peer address for admin and service callers, never for guests or users."""
    target = yield login(None, serializer)
    for name, sees in ((None, False), ("alice", False), ("root", True), ("worker", True)):
        caller = yield login(name, serializer)
        info = yield caller.call("wamp.session.get", target.details.session)
        assert info["session"] == target.details.session and info["authrole"] == "guest"
        if sees:
            assert info["transport"]["peer"].startswith("tcp4:127.0.0.1:"), (name, info)
        else:
            assert "transport" not in info, (name, info)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_on_join_shows_transport_only_to_admin_and_service(login, serializer):
    """Each on_join watcher gets exactly one event per join; only admin and service watchers see the peer address."""
    sessions = {}
    for name in (None, "alice", "root", "worker"):
        sessions[name or "guest"] = yield login(name, serializer)
    watchers = {name: Collector() for name in sessions}
    for name, session in sessions.items():
        yield session.subscribe(watchers[name], "wamp.session.on_join")
    newcomer = yield login(None, "msgpack")
    marker = yield login(None, "cbor")  # a second join: had a watcher got two events for the first, it shows here
    for name, got in watchers.items():
        events = yield got.wait_for(2)
        assert [e[0][0]["session"] for e in events] == [newcomer.details.session, marker.details.session], name
        for (details,), _ in events:
            assert details["authrole"] == "guest"
            if name in ("root", "worker"):
                assert details["transport"]["peer"].startswith("tcp4:127.0.0.1:"), (name, details)
            else:
                assert "transport" not in details, (name, details)


@pytest_twisted.inlineCallbacks
def test_session_list_and_count_carry_no_addresses(login):
    """list returns bare session ids and count a number, for a guest as for anyone."""
    guest = yield login()
    yield login("root")
    ids = yield guest.call("wamp.session.list")
    assert all(isinstance(i, int) for i in ids) and guest.details.session in ids and len(ids) == 2
    assert (yield guest.call("wamp.session.count")) == 2
