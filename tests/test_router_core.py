"""
The router core in memory: Autobahn sessions joined with attach_local to a
Router driven by a Clock. No sockets and no waiting, so timing is exact.
"""
import pytest
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, ComponentConfig, SubscribeOptions
from twisted.internet import defer
from twisted.internet.task import Clock

from wampchat.router import Router
from wampchat.router.auth import Backoff
from wampchat.router.authorize import Authorizer
from wampchat.router.config import ConfigError, RouterConfig, default_roles, load_config
from wampchat.router.credentials import hash_password, verify_password
from wampchat.router.local import attach_local
from wampchat.router.matching import PatternMap
from wampchat.router.realm import SessionInfo


class Peer(ApplicationSession):
    """A session that records its join details."""

    def onConnect(self):
        self.join(self.config.realm)

    def onJoin(self, details):
        self.details = details


def peer(realm, authid, authrole):
    session = Peer(ComponentConfig(realm=realm.name))
    attach_local(realm, session, authid, authrole)
    return session


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def realm(clock):
    return Router(clock, RouterConfig()).realm("wampchat")


def result_of(d):
    """The result of an already-fired Deferred (fails the test if it has not fired)."""
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


def test_local_sessions_join_with_their_identity(realm):
    """attach_local joins at once with the given authid and role; services are not counted as clients."""
    a = peer(realm, "alice", "user")
    assert a.details.authid == "alice" and a.details.authrole == "user"
    assert len(realm.sessions()) == 0 and realm.session_info(a.details.session).authid == "alice"


def test_call_timeout_fires_exactly_at_the_deadline(realm, clock):
    """A call with timeout=500 ms fails with wamp.error.timeout at 0.5 s, not before."""
    callee, caller = peer(realm, "svc", "trusted"), peer(realm, "alice", "user")
    never = defer.Deferred()
    result_of(callee.register(lambda: never, "app.slow"))
    d = caller.call("app.slow", options=CallOptions(timeout=500))
    clock.advance(0.499)
    assert not d.called
    clock.advance(0.002)
    with pytest.raises(ApplicationError) as e:
        result_of(d)
    assert e.value.error == "wamp.error.timeout"


def test_pattern_events_carry_the_topic(realm):
    """A wildcard subscriber sees the concrete topic; an exact one on the same topic shares nothing with it."""
    sub, pub = peer(realm, "a", "user"), peer(realm, "b", "user")
    seen = []
    result_of(sub.subscribe(lambda *a, details=None: seen.append(details.topic), "app..x",
                            options=SubscribeOptions(match="wildcard", details_arg="details")))
    pub.publish("app.room1.x", 1)
    pub.publish("app.room1.y", 2)
    assert seen == ["app.room1.x"]


def test_match_best_prefers_exact_then_longest_prefix_then_wildcard():
    """The dealer's order: exact > longest prefix > most specific wildcard."""
    class Entry:
        def __init__(self, uri):
            self.uri = uri

    pm = PatternMap()
    for uri, match in [("a.b.c", "exact"), ("a.", "prefix"), ("a.b.", "prefix"), ("a..c", "wildcard"),
                       ("a.b.", "wildcard")]:
        pm.add(uri, match, Entry(uri))
    assert pm.match_best("a.b.c").uri == "a.b.c"
    assert pm.match_best("a.b.d").uri == "a.b."
    assert pm.match_best("a.x.y").uri == "a."
    assert pm.match_best("z.b.c") is None
    pm.remove("a.", "prefix")
    pm.remove("a.b.", "prefix")
    assert pm.match_best("a.x.c").uri == "a..c"
    assert sorted(e.uri for e in pm.match_all("a.b.c")) == ["a..c", "a.b.", "a.b.c"]


@pytest.mark.parametrize("uri,action,match,allowed", [
    ("app.x", "publish", "exact", True),
    ("app.", "subscribe", "prefix", True),
    ("app.room..msg", "subscribe", "wildcard", True),
    ("..msg", "subscribe", "wildcard", False),
    ("ap", "subscribe", "prefix", False),
    ("other.x", "call", "exact", False),
    ("svc.x", "call", "exact", True),
    ("svc.x", "register", "exact", False),
    ("wamp.session.count", "call", "exact", True),
    ("wamp.session.on_join", "subscribe", "exact", True),
    ("wamp.session.on_join", "subscribe", "prefix", False),
])
def test_static_permissions_of_the_guest_role(uri, action, match, allowed):
    """Default guest permissions: app.* freely, svc.* only to call, patterns only inside a permission."""
    authorizer = Authorizer(default_roles())
    guest = SessionInfo(1, "wampchat", "guest_00000000", "guest", "anonymous")
    assert authorizer.authorize(guest, uri, action, match) is allowed


def test_dynamic_rules_run_first_and_may_answer_later():
    """The first rule with an opinion wins, a Deferred answer is awaited, None falls through to the role."""
    authorizer = Authorizer(default_roles())
    guest = SessionInfo(1, "wampchat", "g", "guest", "anonymous")
    later = defer.Deferred()
    authorizer.add_rule(lambda req: False if req.uri == "app.blocked" else None)
    authorizer.add_rule(lambda req: later if req.uri == "app.later" else None)
    assert authorizer.authorize(guest, "app.blocked", "publish") is False
    assert authorizer.authorize(guest, "app.free", "publish") is True
    pending = authorizer.authorize(guest, "app.later", "publish")
    assert not pending.called
    later.callback(None)
    assert result_of(pending) is True


def test_backoff_doubles_and_is_capped(clock):
    """Each failure from one source doubles its delay up to the cap; a success clears it."""
    backoff = Backoff(clock, max_delay=1.0, base=0.25)
    delays = []
    for _ in range(5):
        delays.append(backoff.delay("1.2.3.4"))
        backoff.failed("1.2.3.4")
    assert delays == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert backoff.delay("5.6.7.8") == 0.0
    backoff.succeeded("1.2.3.4")
    assert backoff.delay("1.2.3.4") == 0.0


def test_password_hashes_are_salted_and_verify():
    """The same password hashes differently each time; only the right one verifies."""
    first, second = hash_password("secret pw"), hash_password("secret pw")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("secret pw", first) and not verify_password("wrong pw", first)
    assert not verify_password("secret pw", "garbage")


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    ("[]", "must hold a JSON object"),
    ('{"roles": {"guest": {"permissions": [{"uri": "a.", "match": "fuzzy"}]}}}', "match must be one of"),
    ('{"roles": {"guest": {"permissions": [{"uri": "a.", "allow": ["dance"]}]}}}', "allow must be a list"),
    ('{"users": [{"authid": "x"}]}', "users[0]"),
])
def test_bad_config_files_say_what_is_wrong(tmp_path, content, message):
    """A malformed config file raises ConfigError naming the problem."""
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert message in str(e.value)
