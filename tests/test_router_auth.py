"""Authentication (anonymous, ticket, wampcra, login limits) and authorization (roles, config, dynamic rules)."""
import json
import re

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer, task

from helpers import Collector
from wampchat.router.credentials import make_credentials

SERIALIZERS = ["json", "msgpack", "cbor"]
ACK = PublishOptions(acknowledge=True)
SOURCE = "tcp4:127.0.0.1"  # the login limits' key for clients on 127.0.0.1


@pytest.fixture(scope="module")
def users():
    """Config-file user entries (hashing is slow, so made once per module)."""
    return [
        make_credentials("alice", "alice-pw", "user").__dict__,
        make_credentials("root", "root-pw", "admin").__dict__,
        make_credentials("worker", "worker-pw", "service").__dict__,
    ]


@pytest.fixture
def write_config(tmp_path, users):
    """Write a JSON config file with the test users plus ``extra`` top-level keys; returns its path."""

    def write(**extra):
        path = tmp_path / "wampchat.json"
        path.write_text(json.dumps({"users": users, **extra}))
        return str(path)

    return write


@pytest.fixture
def server_with_users(make_server, write_config):
    """A server whose config file knows alice (user), root (admin) and worker (service)."""
    return pytest_twisted.blockon(make_server(["--config", write_config()]))


@defer.inlineCallbacks
def join_error(clients, url, **kwargs):
    """Try to join; return the ApplicationError of the ABORT (fails the test if it joins)."""
    try:
        session = yield clients(url, **kwargs)
    except ApplicationError as e:
        return e
    raise AssertionError(f"joined as {session.details.authid} instead of being refused")


@defer.inlineCallbacks
def publish_error(session, topic):
    """Publish with acknowledge; the error URI it fails with, or None when accepted."""
    try:
        yield session.publish(topic, options=ACK)
    except ApplicationError as e:
        return e.error
    return None


@defer.inlineCallbacks
def subscribe_error(session, topic, match="exact"):
    """Subscribe; the error URI it fails with, or None when accepted."""
    try:
        yield session.subscribe(Collector(), topic, options=SubscribeOptions(match=match))
    except ApplicationError as e:
        return e.error
    return None


@defer.inlineCallbacks
def register_error(session, procedure):
    """Register; the error URI it fails with, or None when accepted."""
    try:
        yield session.register(lambda: None, procedure)
    except ApplicationError as e:
        return e.error
    return None


# -- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_anonymous_guest_identity(server, clients, serializer):
    """An anonymous session is guest_<8 hex> with role guest, and its nick (or authid) is in authextra."""
    plain = yield clients(server.ws_url, serializer=serializer)
    assert re.fullmatch(r"guest_[0-9a-f]{8}", plain.details.authid)
    assert plain.details.authrole == "guest"
    assert plain.details.authmethod == "anonymous"
    assert plain.details.authextra == {"nick": plain.details.authid}
    named = yield clients(server.ws_url, serializer=serializer, authextra={"nick": "  Ann Lee "})
    assert named.details.authextra == {"nick": "Ann Lee"}
    assert named.details.authid != plain.details.authid


@pytest.mark.parametrize("nick", ["", "<script>", "x" * 33, "tab\there", 42])
@pytest_twisted.inlineCallbacks
def test_invalid_nick_is_refused(server, clients, nick):
    """An anonymous HELLO with an invalid nick gets ABORT and no session."""
    err = yield join_error(clients, server.ws_url, authextra={"nick": nick})
    assert err.error == "wamp.error.invalid_argument"
    assert server.router.session_count() == 0


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_ticket_login(server_with_users, clients, serializer):
    """A configured user logs in with ticket and gets its role from the user store."""
    s = yield clients(server_with_users.ws_url, serializer=serializer, authmethods=["ticket"],
                      authid="alice", secret="alice-pw")
    assert (s.details.authid, s.details.authrole, s.details.authmethod) == ("alice", "user", "ticket")


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampcra_login(server_with_users, clients, serializer):
    """A configured user logs in with WAMP-CRA and gets its role from the user store."""
    s = yield clients(server_with_users.ws_url, serializer=serializer, authmethods=["wampcra"],
                      authid="root", secret="root-pw")
    assert (s.details.authid, s.details.authrole, s.details.authmethod) == ("root", "admin", "wampcra")


@pytest.mark.parametrize("method", ["ticket", "wampcra"])
@pytest_twisted.inlineCallbacks
def test_wrong_password_and_unknown_user_get_the_same_abort(server_with_users, clients, method):
    """A wrong password and an unknown user both get ABORT wamp.error.not_authorized with the same message."""
    url = server_with_users.ws_url
    wrong = yield join_error(clients, url, authmethods=[method], authid="alice", secret="nope")
    unknown = yield join_error(clients, url, authmethods=[method], authid="mallory", secret="nope")
    assert wrong.error == unknown.error == "wamp.error.not_authorized"
    assert wrong.args == unknown.args
    assert server_with_users.router.session_count() == 0
    assert server_with_users.router.metrics.auth_failures.value == 2


@pytest_twisted.inlineCallbacks
def test_failed_logins_are_limited_per_account_and_address(make_server, write_config, clients):
    """Past an account's failures its logins are refused at once, right password or not; a success of another
    account from the same address clears nothing; the owner's success clears the account (not the address)."""
    srv = yield make_server(["--config", write_config(), "--login-account-burst", "2", "--login-account-refill",
                             "3600", "--login-address-burst", "5", "--login-address-refill", "3600"])
    url = srv.ws_url
    limits = srv.router.authenticator.limits
    for _ in range(2):
        err = yield join_error(clients, url, authmethods=["ticket"], authid="alice", secret="bad")
        assert err.error == "wamp.error.not_authorized"
    yield clients(url, authmethods=["wampcra"], authid="root", secret="root-pw")
    err = yield join_error(clients, url, authmethods=["ticket"], authid="alice", secret="alice-pw")
    assert err.error == "wampchat.error.rate_limited"
    assert err.args[0] == "too many failed logins for this account; retry in 3600 s"
    assert int(limits.addresses.available(SOURCE)) == 3  # two failures; root's login and the refusal took nothing
    limits.accounts.reset("alice")  # as alice's own success from elsewhere would
    s = yield clients(url, authmethods=["ticket"], authid="alice", secret="alice-pw")
    assert s.details.authid == "alice"
    assert int(limits.addresses.available(SOURCE)) == 3
    assert srv.router.metrics.auth_failures.value == 3


def test_login_limits_refill_on_the_reactor_clock():
    """An account over its limit may try again once the refill period has passed on the injected clock."""
    from wampchat.router.auth_outcomes import Refusal
    from wampchat.router.login_limits import LoginLimits, Rate

    clock = task.Clock()
    limits = LoginLimits(clock, address=Rate(10, 1.0), account=Rate(1, 30.0))
    limits.start_login(SOURCE, "alice")
    with pytest.raises(Refusal):
        limits.start_login(SOURCE, "alice")
    clock.advance(30.0)
    limits.start_login(SOURCE, "alice")


@pytest_twisted.inlineCallbacks
def test_no_guests_refuses_anonymous(make_server, write_config, clients):
    """With --no-guests an anonymous HELLO is aborted while ticket logins still work."""
    srv = yield make_server(["--no-guests", "--config", write_config()])
    err = yield join_error(clients, srv.ws_url)
    assert err.error in ("wamp.error.no_auth_method", "wamp.error.not_authorized")
    s = yield clients(srv.ws_url, authmethods=["ticket"], authid="alice", secret="alice-pw")
    assert s.details.authid == "alice"


@pytest_twisted.inlineCallbacks
def test_config_can_disable_guests(make_server, write_config, clients):
    """allow_guests=false in the config file refuses anonymous sessions."""
    srv = yield make_server(["--config", write_config(allow_guests=False)])
    err = yield join_error(clients, srv.ws_url)
    assert err.error in ("wamp.error.no_auth_method", "wamp.error.not_authorized")


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_unknown_realm(server, clients, serializer):
    """A HELLO for a realm the router does not have gets ABORT wamp.error.no_such_realm."""
    err = yield join_error(clients, server.ws_url, realm="nowhere", serializer=serializer)
    assert err.error == "wamp.error.no_such_realm"


@pytest_twisted.inlineCallbacks
def test_realm_option(make_server, clients):
    """--realm renames the realm clients join; the default one is then unknown."""
    srv = yield make_server(["--realm", "other"])
    s = yield clients(srv.ws_url, realm="other")
    assert s.details.realm == "other"
    err = yield join_error(clients, srv.ws_url, realm="wampchat")
    assert err.error == "wamp.error.no_such_realm"


# -- authorization -------------------------------------------------------------------------------

@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_default_guest_permissions(server, clients, serializer):
    """A guest may use app.* but may not publish, subscribe or register outside it; the session stays up."""
    g = yield clients(server.ws_url, serializer=serializer)
    assert (yield publish_error(g, "app.auth.ok")) is None
    assert (yield subscribe_error(g, "app.auth.ok")) is None
    assert (yield register_error(g, "app.auth.proc")) is None

    assert (yield publish_error(g, "other.topic")) == "wamp.error.not_authorized"
    assert (yield publish_error(g, "chat.room.x.message")) == "wamp.error.not_authorized"
    assert (yield subscribe_error(g, "other.topic")) == "wamp.error.not_authorized"
    assert (yield register_error(g, "other.proc")) == "wamp.error.not_authorized"
    assert (yield register_error(g, "svc.thing")) == "wamp.error.not_authorized"
    with pytest.raises(ApplicationError) as info:
        yield g.call("other.proc")
    assert info.value.error == "wamp.error.not_authorized"
    # still joined and working
    assert (yield g.call("app.auth.proc")) is None
    assert server.router.metrics.denials.value >= 6


@pytest_twisted.inlineCallbacks
def test_wamp_namespace_is_reserved(server_with_users, clients):
    """Peers cannot publish on or register wamp.* URIs, and the refusal leaves the session up."""
    server = server_with_users
    g = yield clients(server.ws_url)
    watcher = yield clients(server.ws_url, serializer="cbor", authmethods=["ticket"], authid="root",
                            secret="root-pw")  # on_join is for admin and service
    joins = Collector()
    yield watcher.subscribe(joins, "wamp.session.on_join")
    assert (yield publish_error(g, "wamp.session.on_join")) in ("wamp.error.invalid_uri", "wamp.error.not_authorized")
    refusals = ("wamp.error.invalid_uri", "wamp.error.procedure_already_exists", "wamp.error.not_authorized")
    assert (yield register_error(g, "wamp.session.count")) in refusals
    assert (yield register_error(g, "wamp.my.proc")) in ("wamp.error.invalid_uri", "wamp.error.not_authorized")
    assert (yield publish_error(g, "app.still.here")) is None  # still joined
    # no forged on_join reached the watcher: the next real join is the first event it sees
    third = yield clients(server.ws_url)
    (args, _), = yield joins.wait_for(1)
    assert args[0]["session"] == third.details.session


@pytest.mark.parametrize("pattern,match", [("app", "prefix"), ("", "prefix"), ("..x", "wildcard"),
                                           ("wamp.session.", "prefix"), ("a..b", "wildcard")])
@pytest_twisted.inlineCallbacks
def test_pattern_subscription_reaching_beyond_permission_is_refused(server, clients, pattern, match):
    """A prefix or wildcard subscription that could match URIs outside the role's permissions is refused."""
    g = yield clients(server.ws_url)
    assert (yield subscribe_error(g, pattern, match)) == "wamp.error.not_authorized"
    assert (yield subscribe_error(g, "app.", "prefix")) is None
    assert (yield subscribe_error(g, "app..x", "wildcard")) is None


@pytest_twisted.inlineCallbacks
def test_config_narrows_a_role(make_server, write_config, clients):
    """A config file role replaces the defaults: guests only read app.public.*, users keep app.*."""
    path = write_config(roles={"guest": {"permissions": [
        {"uri": "app.public.", "match": "prefix", "allow": ["subscribe", "call"]},
        {"uri": "wamp.session.count", "match": "exact", "allow": ["call"]},
    ]}})
    srv = yield make_server(["--config", path])
    g = yield clients(srv.ws_url)
    alice = yield clients(srv.ws_url, authmethods=["ticket"], authid="alice", secret="alice-pw")
    got = Collector()
    assert (yield subscribe_error(g, "app.public.news")) is None
    yield g.subscribe(got, "app.public.news")
    assert (yield publish_error(g, "app.public.news")) == "wamp.error.not_authorized"
    assert (yield subscribe_error(g, "app.private")) == "wamp.error.not_authorized"
    assert (yield register_error(g, "app.public.proc")) == "wamp.error.not_authorized"
    with pytest.raises(ApplicationError) as info:
        yield g.call("wamp.session.list")
    assert info.value.error == "wamp.error.not_authorized"
    assert (yield g.call("wamp.session.count")) == 2

    yield alice.publish("app.public.news", "hello", options=ACK)
    events = yield got.wait_for(1)
    assert events[0][0] == ("hello",)
    assert (yield register_error(alice, "app.public.proc")) is None


@pytest_twisted.inlineCallbacks
def test_service_role_registers_svc(server_with_users, clients):
    """The service role may register svc.* procedures that guests may call but not register."""
    worker = yield clients(server_with_users.ws_url, authmethods=["wampcra"], authid="worker", secret="worker-pw")
    guest = yield clients(server_with_users.ws_url)
    assert (yield register_error(worker, "svc.echo")) is None
    yield worker.register(lambda x: x, "svc.echo2")
    assert (yield guest.call("svc.echo2", "hi")) == "hi"
    assert (yield register_error(guest, "svc.other")) == "wamp.error.not_authorized"


@pytest_twisted.inlineCallbacks
def test_dynamic_rules(server_with_users, clients):
    """Dynamic rules added at runtime override static permissions, synchronously or via a Deferred."""
    from twisted.internet import reactor

    authorizer = server_with_users.router.realm("wampchat").authorizer
    asked = []

    def locked(request):
        asked.append((request.session.authid, request.uri, request.action, request.match))
        if request.uri.startswith("app.locked.") and request.session.authrole == "guest":
            return False
        if request.uri == "dyn.alice" and request.session.authid == "alice":
            return True
        return None

    def slow(request):
        if request.uri == "dyn.later":
            return task.deferLater(reactor, 0, lambda: True)
        return None

    authorizer.add_rule(locked)
    authorizer.add_rule(slow)
    url = server_with_users.ws_url
    g = yield clients(url)
    alice = yield clients(url, authmethods=["ticket"], authid="alice", secret="alice-pw")

    assert (yield publish_error(g, "app.locked.room")) == "wamp.error.not_authorized"
    assert (yield subscribe_error(g, "app.locked.room")) == "wamp.error.not_authorized"
    assert (yield publish_error(alice, "app.locked.room")) is None
    assert (yield publish_error(alice, "dyn.alice")) is None
    assert (yield publish_error(g, "dyn.alice")) == "wamp.error.not_authorized"
    assert (yield publish_error(g, "dyn.later")) is None
    assert (g.details.authid, "app.locked.room", "publish", "exact") in asked
    assert (g.details.authid, "app.locked.room", "subscribe", "exact") in asked
    # requests queued behind an asynchronous decision keep their order
    got = Collector()
    yield alice.subscribe(got, "dyn.later")
    for i in range(5):
        g.publish("dyn.later", i)
    yield g.publish("dyn.later", 5, options=ACK)
    events = yield got.wait_for(6)
    assert [e[0][0] for e in events] == list(range(6))


@pytest.mark.parametrize("method,authid,secret,role", [("ticket", "alice", "alice-pw", "user"),
                                                       ("wampcra", "worker", "worker-pw", "service")])
@pytest_twisted.inlineCallbacks
def test_login_over_rawsocket(make_server, write_config, clients, method, authid, secret, role):
    """ticket and wampcra work over RawSocket too, and a wrong secret is refused there the same way."""
    srv = yield make_server(["--config", write_config(), "--rawsocket", "tcp:0:interface=127.0.0.1"])
    s = yield clients(None, serializer="msgpack", rawsocket_port=srv.rawsocket_port, authmethods=[method],
                      authid=authid, secret=secret)
    assert (s.details.authid, s.details.authrole, s.details.authmethod) == (authid, role, method)
    err = yield join_error(clients, None, serializer="cbor", rawsocket_port=srv.rawsocket_port,
                           authmethods=[method], authid=authid, secret="wrong")
    assert err.error == "wamp.error.not_authorized"
