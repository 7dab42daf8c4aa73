"""Session meta API over real sockets: wamp.session.count/list/get, on_join/on_leave, who may use them
(admin and service by default, more roles through a config file) and who sees peer addresses."""
import json

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

from helpers import Collector, poll_until
from wampchat.router.config import default_roles
from wampchat.router.credentials import make_credentials

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SERIALIZERS = ["json", "msgpack", "cbor"]
META_CALLS = [("wamp.session.count", []), ("wamp.session.list", []), ("wamp.session.get", [1])]
META_TOPICS = ["wamp.session.on_join", "wamp.session.on_leave"]
PASSWORDS = {"root": "root-pw", "alice": "alice-pw", "worker": "worker-pw"}
# The config that gives users the meta API: the user role's defaults plus one prefix rule.
USERS_SEE_SESSIONS = {"user": {"permissions": default_roles()["user"]["permissions"] + [
    {"uri": "wamp.session.", "match": "prefix", "allow": ["call", "subscribe"]}]}}


# -- servers with config users: root (admin), alice (user), worker (service) ---------------------------

@pytest.fixture(scope="module")
def user_entries():
    """Config-file users root (admin), alice (user) and worker (service); hashing is slow, so once per module."""
    roles = {"root": "admin", "alice": "user", "worker": "service"}
    return [make_credentials(name, PASSWORDS[name], roles[name]).__dict__ for name in roles]


@pytest.fixture
def users_server(make_server, tmp_path, user_entries):
    """Start a server whose config file knows root, alice and worker, plus ``roles`` if given."""

    def start(roles=None):
        path = tmp_path / "users.json"
        path.write_text(json.dumps({"users": user_entries, **({"roles": roles} if roles else {})}))
        return make_server(["--config", str(path)])

    return start


@pytest.fixture
def with_users(users_server):
    """A server whose config file knows root, alice and worker, with the default role permissions."""
    return pytest_twisted.blockon(users_server())


@pytest.fixture
def widened(users_server):
    """Like ``with_users``, but its config file also grants the user role the session meta API."""
    return pytest_twisted.blockon(users_server(USERS_SEE_SESSIONS))


def login_to(clients, server, name=None, serializer="json", **kwargs):
    """Join ``server`` as a config user (ticket) or, with no name, as a guest."""
    if name is None:
        return clients(server.ws_url, serializer=serializer, **kwargs)
    return clients(server.ws_url, serializer=serializer, authmethods=["ticket"], authid=name,
                   secret=PASSWORDS[name], **kwargs)


@pytest.fixture
def login(with_users, clients):
    """Join ``with_users`` as a config user or a guest."""
    return lambda name=None, serializer="json", **kwargs: login_to(clients, with_users, name, serializer, **kwargs)


@defer.inlineCallbacks
def refusal(deferred):
    """The error URI ``deferred`` fails with, or None when it succeeds."""
    try:
        yield deferred
    except ApplicationError as e:
        return e.error
    return None


# -- who may use the meta API ------------------------------------------------------------------------

@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("name", [None, "alice"], ids=["guest", "user"])
@pytest_twisted.inlineCallbacks
def test_guests_and_users_are_refused_the_meta_api(login, name, serializer):
    """By default a guest or a plain user gets not_authorized for every meta call and meta subscription
    (exact or by pattern), and the session stays up."""
    peer = yield login(name, serializer)
    for procedure, args in META_CALLS:
        assert (yield refusal(peer.call(procedure, *args))) == "wamp.error.not_authorized", procedure
    for topic in META_TOPICS:
        assert (yield refusal(peer.subscribe(lambda *a: None, topic))) == "wamp.error.not_authorized", topic
    prefix = SubscribeOptions(match="prefix")
    assert (yield refusal(peer.subscribe(lambda *a: None, "wamp.session.", options=prefix))) == \
        "wamp.error.not_authorized"
    assert peer.is_attached()
    assert (yield refusal(peer.publish("app.still.here", options=PublishOptions(acknowledge=True)))) is None


@pytest.mark.parametrize("name", ["root", "worker"], ids=["admin", "service"])
@pytest_twisted.inlineCallbacks
def test_admin_and_service_may_use_the_meta_api(login, name):
    """admin and service call count/list/get and get on_join/on_leave events."""
    peer = yield login(name)
    joins, leaves = Collector(), Collector()
    yield peer.subscribe(joins, "wamp.session.on_join")
    yield peer.subscribe(leaves, "wamp.session.on_leave")
    guest = yield login(None, "cbor")
    (args, _), = yield joins.wait_for(1)
    assert args[0]["session"] == guest.details.session
    assert (yield peer.call("wamp.session.count")) == 2
    assert set((yield peer.call("wamp.session.list"))) == {peer.details.session, guest.details.session}
    assert (yield peer.call("wamp.session.get", guest.details.session))["authrole"] == "guest"
    yield guest.leave()
    (args, _), = yield leaves.wait_for(1)
    assert list(args) == [guest.details.session, guest.details.authid, "guest"]


@pytest_twisted.inlineCallbacks
def test_config_file_widens_the_meta_api_to_users(widened, clients):
    """A config file granting ``wamp.session.`` to the user role lets users call and subscribe (still without
    peer addresses); guests stay refused, and the user keeps the rest of the role's permissions it restates."""
    alice = yield login_to(clients, widened, "alice")
    guest = yield login_to(clients, widened)
    joins = Collector()
    yield alice.subscribe(joins, "wamp.session.on_join")
    assert (yield alice.call("wamp.session.count")) == 2
    info = yield alice.call("wamp.session.get", guest.details.session)
    assert info["authrole"] == "guest" and "transport" not in info
    newcomer = yield login_to(clients, widened, "worker")
    (args, _), = yield joins.wait_for(1)
    assert args[0]["session"] == newcomer.details.session and "transport" not in args[0]
    assert (yield refusal(guest.call("wamp.session.count"))) == "wamp.error.not_authorized"
    assert (yield refusal(alice.publish("app.still.mine", options=PublishOptions(acknowledge=True)))) is None


@pytest_twisted.inlineCallbacks
def test_the_chat_service_still_follows_joins_and_leaves(server, clients):
    """The in-process chat service (role trusted) keeps its on_join/on_leave subscriptions, which are how it
    knows the online nicks: a second guest "Ann" is refused while the first is online, and let in once it left."""
    ann = yield clients(server.ws_url, authextra={"nick": "Ann"})
    with pytest.raises(ApplicationError) as info:
        yield clients(server.ws_url, serializer="cbor", authextra={"nick": "Ann"})
    assert info.value.error == "wampchat.error.conflict"
    yield ann.leave()

    @defer.inlineCallbacks
    def ann_joins_again():
        try:
            yield clients(server.ws_url, serializer="cbor", authextra={"nick": "Ann"})
        except ApplicationError as e:
            assert e.error == "wampchat.error.conflict"
            return False
        return True

    yield poll_until(ann_joins_again)


# -- what the meta API answers ---------------------------------------------------------------------------

@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_count_list_and_get(login, serializer):
    """count and list see every joined session; get describes one; a role filter narrows them."""
    a = yield login(None, serializer, authextra={"nick": "Ann"})
    b = yield login(None, serializer)
    root = yield login("root", serializer)
    ids = {a.details.session, b.details.session, root.details.session}
    assert (yield root.call("wamp.session.count")) == 3
    assert set((yield root.call("wamp.session.list"))) == ids
    assert (yield root.call("wamp.session.count", ["guest"])) == 2
    assert (yield root.call("wamp.session.count", ["admin"])) == 1
    assert (yield root.call("wamp.session.list", ["service"])) == []

    info = yield root.call("wamp.session.get", a.details.session)
    assert info["session"] == a.details.session
    assert info["authid"] == a.details.authid
    assert info["authrole"] == "guest"
    assert info["authmethod"] == "anonymous"
    assert info["authextra"] == {"nick": "Ann"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_get_unknown_and_bad_id(login, serializer):
    """get of an unknown id fails with wamp.error.no_such_session, a non-integer with invalid_argument;
    an integral float (what wampy.js over CBOR sends for ids above 2**32) is read as the id."""
    a = yield login("root", serializer)
    assert (yield refusal(a.call("wamp.session.get", 4242))) == "wamp.error.no_such_session"
    assert (yield refusal(a.call("wamp.session.get", "nope"))) == "wamp.error.invalid_argument"
    assert (yield refusal(a.call("wamp.session.get", 1.5))) == "wamp.error.invalid_argument"
    info = yield a.call("wamp.session.get", float(a.details.session))
    assert info["session"] == a.details.session
    assert (yield a.call("wamp.session.count")) == 1  # still joined


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_on_join_and_on_leave_events(login, serializer):
    """Watchers get on_join with the session's details and on_leave with its id, authid and role."""
    watcher = yield login("root", serializer)
    joins, leaves = Collector(), Collector()
    yield watcher.subscribe(joins, "wamp.session.on_join")
    yield watcher.subscribe(leaves, "wamp.session.on_leave")

    other = yield login(None, serializer, authextra={"nick": "Zed"})
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
def test_on_leave_on_abrupt_disconnect(login):
    """A session whose socket drops without GOODBYE still produces on_leave."""
    watcher = yield login("worker")
    leaves = Collector()
    yield watcher.subscribe(leaves, "wamp.session.on_leave")
    other = yield login(None, "cbor")
    sid = other.details.session
    other._transport.transport.abortConnection()
    (args, _), = yield leaves.wait_for(1)
    assert args[0] == sid


@pytest.mark.parametrize("name", [None, "root"], ids=["guest", "admin"])
@pytest_twisted.inlineCallbacks
def test_meta_procedures_cannot_be_registered(login, name):
    """No peer, admin included, can register a meta procedure or any wamp.* URI."""
    a = yield login(name)
    for uri in ("wamp.session.count", "wamp.session.mine"):
        assert (yield refusal(a.register(lambda: 0, uri))) in ("wamp.error.invalid_uri", "wamp.error.not_authorized")
    assert a.is_attached()


# -- privacy: only admin and service see a session's transport (peer address) --------------------

@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_session_get_shows_transport_only_to_admin_and_service(widened, clients, serializer):
    """wamp.session.get includes the peer address for admin and service callers, never for a user even when a
    config file lets users call it."""
    target = yield login_to(clients, widened, None, serializer)
    for name, sees in (("alice", False), ("root", True), ("worker", True)):
        caller = yield login_to(clients, widened, name, serializer)
        info = yield caller.call("wamp.session.get", target.details.session)
        assert info["session"] == target.details.session and info["authrole"] == "guest"
        if sees:
            assert info["transport"]["peer"].startswith("tcp4:127.0.0.1:"), (name, info)
        else:
            assert "transport" not in info, (name, info)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_on_join_shows_transport_only_to_admin_and_service(widened, clients, serializer):
    """Each on_join watcher gets exactly one event per join; only admin and service watchers see the peer address
    (a user watching through a config file's grant does not)."""
    sessions = {}
    for name in ("alice", "root", "worker"):
        sessions[name] = yield login_to(clients, widened, name, serializer)
    watchers = {name: Collector() for name in sessions}
    for name, session in sessions.items():
        yield session.subscribe(watchers[name], "wamp.session.on_join")
    newcomer = yield login_to(clients, widened, None, "msgpack")
    marker = yield login_to(clients, widened, None, "cbor")  # had a watcher got two events for one join, it shows
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
def test_session_list_and_count_carry_no_addresses(widened, clients):
    """list returns bare session ids and count a number, for a user granted them as for anyone."""
    alice = yield login_to(clients, widened, "alice")
    yield login_to(clients, widened, "root")
    ids = yield alice.call("wamp.session.list")
    assert all(isinstance(i, int) for i in ids) and alice.details.session in ids and len(ids) == 2
    assert (yield alice.call("wamp.session.count")) == 2
