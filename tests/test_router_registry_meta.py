"""
The registration and subscription meta APIs (wamp.registration.*, wamp.subscription.*): every procedure and
event in memory (sessions joined in-process to a Router on a Clock), and who may use them over real sockets.
"""
import time
from datetime import datetime

import pytest
import pytest_twisted
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions, SubscribeOptions
from twisted.internet.task import Clock

from helpers import Collector
from test_router_core import RawPeer, peer, result_of
from test_router_meta import login, refusal, user_entries, users_server, with_users  # noqa: F401 (fixtures)
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.session_info import SessionInfo

STORE_INDEPENDENT = True  # router behaviour: one store is enough (see conftest)

PREFIX = RegisterOptions(match="prefix")
WILDCARD = RegisterOptions(match="wildcard")
SHARED = RegisterOptions(invoke="roundrobin")
REGISTRATION_EVENTS = ["on_create", "on_register", "on_unregister", "on_delete"]
SUBSCRIPTION_EVENTS = ["on_create", "on_subscribe", "on_unsubscribe", "on_delete"]


@pytest.fixture
def realm():
    return Router(Clock(), RouterConfig()).realm("wampchat")


@pytest.fixture
def admin(realm):
    return peer(realm, "root", "admin")


def error_of(d):
    """The error URI an already-fired Deferred failed with."""
    with pytest.raises(ApplicationError) as e:
        result_of(d)
    return e.value.error


def follow(session, kind, events):
    """Subscribe ``session`` to ``wamp.<kind>.<event>`` for each event; returns the [(event, args)] seen, in order."""
    seen = []
    for event in events:
        result_of(session.subscribe(lambda *args, event=event: seen.append((event, list(args))),
                                    f"wamp.{kind}.{event}"))
    return seen


def session_of(session):
    return session._session_id


def leave(session):
    """``session`` goes away (its transport closes), as a client does."""
    session._transport.close()


# -- wamp.registration.* ---------------------------------------------------------------------------------

def test_registration_list_lookup_and_match_follow_the_dealer(realm, admin):
    """list sorts ids by match policy; lookup finds exactly (uri, match); match names what a call would use."""
    svc = peer(realm, "svc", "service")
    exact = result_of(svc.register(lambda: 1, "app.meta.exact"))
    prefix = result_of(svc.register(lambda: 2, "app.meta.", options=PREFIX))
    wildcard = result_of(svc.register(lambda: 3, "app..w", options=WILDCARD))
    listed = result_of(admin.call("wamp.registration.list"))
    assert exact.id in listed["exact"] and listed["prefix"] == [prefix.id] and listed["wildcard"] == [wildcard.id]
    call = admin.call
    assert result_of(call("wamp.registration.lookup", "app.meta.exact")) == exact.id
    assert result_of(call("wamp.registration.lookup", "app.meta.", {"match": "prefix"})) == prefix.id
    assert result_of(call("wamp.registration.lookup", "app..w", {"match": "wildcard"})) == wildcard.id
    assert result_of(call("wamp.registration.lookup", "app.meta.")) is None   # not an exact registration
    assert result_of(call("wamp.registration.match", "app.meta.exact")) == exact.id
    assert result_of(call("wamp.registration.match", "app.meta.other")) == prefix.id
    assert result_of(call("wamp.registration.match", "app.x.w")) == wildcard.id
    assert result_of(call("wamp.registration.match", "app.nothing")) is None


def test_registration_get_and_its_callees(realm, admin):
    """get describes a registration (created in ISO 8601); list/count_callees name the sessions sharing it."""
    one, two = peer(realm, "one", "service"), peer(realm, "two", "service")
    before = time.time()
    reg = result_of(one.register(lambda: 1, "app.shared", options=SHARED))
    result_of(two.register(lambda: 2, "app.shared", options=SHARED))
    got = result_of(admin.call("wamp.registration.get", reg.id))
    created = datetime.strptime(got.pop("created"), "%Y-%m-%dT%H:%M:%S.%fZ")
    assert before - 1 <= (created - datetime(1970, 1, 1)).total_seconds() <= time.time() + 1
    assert got == {"id": reg.id, "uri": "app.shared", "match": "exact", "invoke": "roundrobin"}
    assert result_of(admin.call("wamp.registration.list_callees", reg.id)) == [session_of(one), session_of(two)]
    assert result_of(admin.call("wamp.registration.count_callees", float(reg.id))) == 2


@pytest.mark.parametrize("procedure", ["get", "list_callees", "count_callees"])
def test_unknown_or_malformed_registration_ids_are_errors(admin, procedure):
    assert error_of(admin.call(f"wamp.registration.{procedure}", 424242)) == "wamp.error.no_such_registration"
    assert error_of(admin.call(f"wamp.registration.{procedure}", "x")) == "wamp.error.invalid_argument"
    assert error_of(admin.call(f"wamp.registration.{procedure}")) == "wamp.error.invalid_argument"


def test_lookup_and_match_refuse_bad_arguments(admin):
    for kind in ("registration", "subscription"):
        assert error_of(admin.call(f"wamp.{kind}.lookup", 7)) == "wamp.error.invalid_argument"
        assert error_of(admin.call(f"wamp.{kind}.lookup", "app.x", {"match": "fuzzy"})) == \
            "wamp.error.invalid_argument"
        assert error_of(admin.call(f"wamp.{kind}.lookup", "app.x", "exact")) == "wamp.error.invalid_argument"
        assert error_of(admin.call(f"wamp.{kind}.match")) == "wamp.error.invalid_argument"


def test_registration_events_follow_a_shared_registration_from_first_callee_to_last(realm, admin):
    seen = follow(admin, "registration", REGISTRATION_EVENTS)
    one, two = peer(realm, "one", "service"), peer(realm, "two", "service")
    reg = result_of(one.register(lambda: 1, "app.ev", options=SHARED))
    result_of(two.register(lambda: 2, "app.ev", options=SHARED))
    first, second = session_of(one), session_of(two)
    result_of(reg.unregister())
    leave(two)
    (event, (who, details)), *rest = seen
    assert (event, who) == ("on_create", first)
    assert {k: details[k] for k in ("id", "uri", "match", "invoke")} == \
        {"id": reg.id, "uri": "app.ev", "match": "exact", "invoke": "roundrobin"} and "created" in details
    assert rest == [("on_register", [first, reg.id]), ("on_register", [second, reg.id]),
                    ("on_unregister", [first, reg.id]), ("on_unregister", [second, reg.id]),
                    ("on_delete", [second, reg.id])]
    assert error_of(admin.call("wamp.registration.get", reg.id)) == "wamp.error.no_such_registration"


def test_arguments_may_come_as_keywords(realm):
    """A client may name the arguments (kw ``procedure``, ``options``, ``registration_id``), as Crossbar allows."""
    svc, admin = peer(realm, "svc", "service"), RawPeer(realm, "root", "admin")
    reg = result_of(svc.register(lambda: 1, "app.kw.", options=PREFIX))
    admin.send(message.Call(1, "wamp.registration.lookup", kwargs={"procedure": "app.kw.",
                                                                   "options": {"match": "prefix"}}))
    admin.send(message.Call(2, "wamp.registration.count_callees", kwargs={"registration_id": reg.id}))
    assert [(r.request, r.args) for r in admin.take()] == [(1, [reg.id]), (2, [1])]


class OtherNode:
    """What the dealer sees of another node's callees (one router across nodes): a remote proxy."""

    remote = True

    def __init__(self, realm):
        self.info = SessionInfo(0, realm.name, "node:b", "node", "cluster", "cluster")
        self.registrations = {}


def test_other_nodes_callees_are_callable_here_but_not_listed_as_callees(realm, admin):
    """A registration held by another node is listed and matched; its callees are not this node's sessions, so
    they are not listed or counted, and its events name no session (null) and skip on_register."""
    seen = follow(admin, "registration", REGISTRATION_EVENTS)
    other, local = OtherNode(realm), peer(realm, "svc", "service")
    assert realm.dealer.add_remote(other, "app.far", "exact", "roundrobin")
    reg_id = result_of(admin.call("wamp.registration.match", "app.far"))
    assert result_of(admin.call("wamp.registration.count_callees", reg_id)) == 0
    result_of(local.register(lambda: 1, "app.far", options=SHARED))
    assert result_of(admin.call("wamp.registration.list_callees", reg_id)) == [session_of(local)]
    local_id = session_of(local)
    leave(local)
    realm.dealer.remove_remote(other, "app.far", "exact")
    assert [(event, args[0]) for event, args in seen] == [
        ("on_create", None), ("on_register", local_id), ("on_unregister", local_id),
        ("on_delete", None)]


# -- wamp.subscription.* ---------------------------------------------------------------------------------

def test_subscription_list_lookup_match_get_and_subscribers(realm, admin):
    a, b = peer(realm, "a", "user"), peer(realm, "b", "user")
    exact = result_of(a.subscribe(lambda *x: None, "app.t.x"))
    result_of(b.subscribe(lambda *x: None, "app.t.x"))
    prefix = result_of(a.subscribe(lambda *x: None, "app.t.", options=SubscribeOptions(match="prefix")))
    wildcard = result_of(b.subscribe(lambda *x: None, "app..x", options=SubscribeOptions(match="wildcard")))
    listed = result_of(admin.call("wamp.subscription.list"))
    assert exact.id in listed["exact"] and listed["prefix"] == [prefix.id] and listed["wildcard"] == [wildcard.id]
    call = admin.call
    assert result_of(call("wamp.subscription.lookup", "app.t.x")) == exact.id
    assert result_of(call("wamp.subscription.lookup", "app..x", {"match": "wildcard"})) == wildcard.id
    assert result_of(call("wamp.subscription.lookup", "app.none")) is None
    assert sorted(result_of(call("wamp.subscription.match", "app.t.x"))) == sorted([exact.id, prefix.id, wildcard.id])
    assert result_of(call("wamp.subscription.match", "app.t.y")) == [prefix.id]
    assert result_of(call("wamp.subscription.match", "other.topic")) is None
    got = result_of(call("wamp.subscription.get", exact.id))
    assert got.pop("created").endswith("Z") and got == {"id": exact.id, "uri": "app.t.x", "match": "exact"}
    assert result_of(call("wamp.subscription.list_subscribers", exact.id)) == [session_of(a), session_of(b)]
    assert result_of(call("wamp.subscription.count_subscribers", exact.id)) == 2
    for procedure in ("get", "list_subscribers", "count_subscribers"):
        assert error_of(call(f"wamp.subscription.{procedure}", 424242)) == "wamp.error.no_such_subscription"


def test_subscription_events_follow_a_topic_from_first_subscriber_to_last(realm, admin):
    """on_create and on_subscribe for the first subscriber, on_subscribe for the next (once, however often it
    subscribes), on_unsubscribe as each goes, on_delete with the last; the meta topics themselves are silent."""
    seen = follow(admin, "subscription", SUBSCRIPTION_EVENTS)
    a, b = peer(realm, "a", "user"), peer(realm, "b", "user")
    sub = result_of(a.subscribe(lambda *x: None, "app.room"))
    result_of(b.subscribe(lambda *x: None, "app.room"))
    realm.broker.subscribe(realm.session(session_of(b)), "app.room", "exact")   # again: nothing new
    first, second = session_of(a), session_of(b)
    result_of(sub.unsubscribe())
    leave(b)
    (event, (who, details)), *rest = seen
    assert (event, who) == ("on_create", first)
    assert details["id"] == sub.id and details["uri"] == "app.room" and details["match"] == "exact"
    assert rest == [("on_subscribe", [first, sub.id]), ("on_subscribe", [second, sub.id]),
                    ("on_unsubscribe", [first, sub.id]), ("on_unsubscribe", [second, sub.id]),
                    ("on_delete", [second, sub.id])]


def test_users_and_guests_are_refused_in_memory(realm):
    """Only admin, service and trusted may call or subscribe: others get not_authorized."""
    for role in ("user", "guest"):
        who = peer(realm, f"{role}_1", role)
        assert error_of(who.call("wamp.registration.list")) == "wamp.error.not_authorized"
        assert error_of(who.call("wamp.subscription.match", "app.x")) == "wamp.error.not_authorized"
        assert error_of(who.subscribe(lambda *a: None, "wamp.subscription.on_create")) == \
            "wamp.error.not_authorized"
    for role in ("service", "trusted"):
        assert result_of(peer(realm, f"{role}_1", role).call("wamp.subscription.list")) is not None


# -- over real sockets -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [None, "alice"], ids=["guest", "user"])
@pytest_twisted.inlineCallbacks
def test_guests_and_users_are_refused_over_the_wire(login, name):
    peer_ = yield login(name, "cbor")
    for procedure, args in [("wamp.registration.list", []), ("wamp.registration.get", [1]),
                            ("wamp.subscription.lookup", ["app.x"]), ("wamp.subscription.count_subscribers", [1])]:
        assert (yield refusal(peer_.call(procedure, *args))) == "wamp.error.not_authorized", procedure
    for topic in ("wamp.registration.on_create", "wamp.subscription.on_subscribe"):
        assert (yield refusal(peer_.subscribe(lambda *a: None, topic))) == "wamp.error.not_authorized", topic
    assert peer_.is_attached()


@pytest.mark.parametrize("name", ["root", "worker"], ids=["admin", "service"])
@pytest_twisted.inlineCallbacks
def test_admin_and_service_use_both_meta_apis_over_the_wire(login, name):
    """An admin or service sees another client's registration and subscription come and go."""
    watcher = yield login(name)
    client = yield login("alice", "msgpack")
    registered, subscribed = Collector(), Collector()
    yield watcher.subscribe(registered, "wamp.registration.on_register")
    yield watcher.subscribe(subscribed, "wamp.subscription.on_subscribe")
    reg = yield client.register(lambda: "hi", "app.wire.proc")
    sub = yield client.subscribe(lambda *a: None, "app.wire.topic")
    (args, _), = yield registered.wait_for(1)
    assert list(args) == [client.details.session, reg.id]
    (args, _), = yield subscribed.wait_for(1)
    assert list(args) == [client.details.session, sub.id]
    assert (yield watcher.call("wamp.registration.match", "app.wire.proc")) == reg.id
    assert (yield watcher.call("wamp.registration.list_callees", reg.id)) == [client.details.session]
    assert (yield watcher.call("wamp.subscription.lookup", "app.wire.topic")) == sub.id
    assert (yield watcher.call("wamp.subscription.get", sub.id))["uri"] == "app.wire.topic"
