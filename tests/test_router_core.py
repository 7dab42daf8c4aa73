"""
The router core in memory: Autobahn sessions joined with attach_local to a
Router driven by a Clock. No sockets and no waiting, so timing is exact.
"""
import pytest
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp import message, role
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, ComponentConfig, PublishOptions, RegisterOptions, SubscribeOptions
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.test import iosim

from wampchat.router import Router
from wampchat.router.login_limits import Buckets, Rate
from wampchat.router.authorize import Authorizer, _static_allows
from wampchat.router.config import ConfigError, RouterConfig, default_roles, load_config
from wampchat.router.credentials import hash_password, verify_password
from wampchat.router.inprocess import attach_local
from wampchat.router.matching import PatternMap
from wampchat.router.session_info import SessionInfo
from wampchat.router.session import MAX_BACKLOG
from wampchat.router.transports.websocket import RouterWebSocketFactory


class Peer(ApplicationSession):
    """A session that records its join details, how it left, and an ABORT after joining."""

    left = None
    aborted = None

    def onConnect(self):
        self.join(self.config.realm)

    def onMessage(self, msg):
        if isinstance(msg, message.Abort) and self.is_attached():
            self.aborted = msg  # Autobahn's session only expects ABORT before WELCOME
            return
        super().onMessage(msg)

    def onJoin(self, details):
        self.details = details

    def onLeave(self, details):
        self.left = details
        super().onLeave(details)


def peer(realm, authid, authrole):
    """An Autobahn ApplicationSession joined in-process as (authid, authrole)."""
    session = Peer(ComponentConfig(realm=realm.name))
    attach_local(realm, session, authid, authrole)
    return session


class RawPeer:
    """The app side of attach_local at the message level: sends what a test says, records what arrives.

    ``call_canceling`` is what it announces as callee, so a test picks
    whether the router may INTERRUPT it.
    """

    def __init__(self, realm, authid, authrole="user", call_canceling=True):
        self.received = []
        self.closed = False
        self._hello = message.Hello(realm.name, {
            "caller": role.RoleCallerFeatures(call_canceling=True, progressive_call_results=True),
            "callee": role.RoleCalleeFeatures(call_canceling=call_canceling, progressive_call_results=True),
        })
        attach_local(realm, self, authid, authrole)
        assert isinstance(self.received[0], message.Welcome)

    def onOpen(self, transport):
        self.transport = transport
        transport.send(self._hello)

    def onMessage(self, msg):
        self.received.append(msg)

    def onClose(self, wasClean):
        self.closed = True

    def send(self, msg):
        self.transport.send(msg)

    def take(self):
        """Everything received since the last take (the WELCOME excepted)."""
        got = [m for m in self.received if not isinstance(m, message.Welcome)]
        self.received = []
        return got


def invoked_call(realm, call_canceling=True, **call_options):
    """A raw callee holding a raw caller's CALL 7 to app.slow; returns (callee, caller, invocation)."""
    callee, caller = RawPeer(realm, "svc", call_canceling=call_canceling), RawPeer(realm, "alice")
    callee.send(message.Register(1, "app.slow"))
    assert isinstance(callee.take()[0], message.Registered)
    caller.send(message.Call(7, "app.slow", args=["x"], **call_options))
    [invocation] = callee.take()
    assert isinstance(invocation, message.Invocation) and invocation.args == ["x"]
    assert caller.take() == []
    return callee, caller, invocation


def assert_canceled(messages, request=7):
    """``messages`` is exactly one ERROR wamp.error.canceled for CALL ``request``."""
    assert len(messages) == 1, messages
    [error] = messages
    assert isinstance(error, message.Error) and error.request_type == message.Call.MESSAGE_TYPE
    assert (error.request, error.error) == (request, "wamp.error.canceled")
    return error


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
    ("wamp.session.count", "call", "exact", False),  # the session meta API is for admin and service
    ("wamp.session.on_join", "subscribe", "exact", False),
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


def test_login_buckets_run_out_and_refill_per_key(clock):
    """A key's burst runs out, then one token comes back per refill period; other keys are not touched."""
    buckets = Buckets(clock, Rate(burst=2, refill=1.0))
    assert [buckets.take("1.2.3.4") for _ in range(3)] == [True, True, False]
    assert buckets.take("5.6.7.8")
    clock.advance(1.0)
    assert buckets.take("1.2.3.4") and not buckets.take("1.2.3.4")


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


# -- call cancel, each mode, at the message level ------------------------------

def test_cancel_skip_answers_the_caller_at_once_and_leaves_the_callee_alone(realm):
    """skip: the caller gets wamp.error.canceled now, the callee no INTERRUPT, and its late YIELD is dropped."""
    callee, caller, invocation = invoked_call(realm)
    caller.send(message.Cancel(7, mode="skip"))
    assert_canceled(caller.take())
    assert callee.take() == []
    callee.send(message.Yield(invocation.request, args=["too late"]))
    assert caller.take() == [] and callee.take() == []


def test_cancel_kill_interrupts_and_waits_for_the_callee(realm):
    """kill: the callee gets INTERRUPT(kill); the caller hears wamp.error.canceled only when the callee answers."""
    callee, caller, invocation = invoked_call(realm)
    caller.send(message.Cancel(7, mode="kill"))
    [interrupt] = callee.take()
    assert isinstance(interrupt, message.Interrupt)
    assert (interrupt.request, interrupt.mode) == (invocation.request, "kill")
    assert caller.take() == []
    callee.send(message.Error(message.Invocation.MESSAGE_TYPE, invocation.request, "app.error.stopped",
                              args=["stopped at 40%"]))
    error = assert_canceled(caller.take())
    assert error.args == ["stopped at 40%"]
    callee.send(message.Yield(invocation.request, args=["later still"]))
    assert caller.take() == []


def test_cancel_without_mode_is_kill(realm):
    """A CANCEL with no mode (what Autobahn sends) interrupts the callee in kill mode."""
    callee, caller, invocation = invoked_call(realm)
    caller.send(message.Cancel(7))
    [interrupt] = callee.take()
    assert interrupt.mode == "kill" and caller.take() == []


def test_cancel_kill_falls_back_to_skip_for_a_callee_that_cannot_be_interrupted(realm):
    """kill to a callee that did not announce call_canceling acts as skip: no INTERRUPT, the caller answered now."""
    callee, caller, invocation = invoked_call(realm, call_canceling=False)
    caller.send(message.Cancel(7, mode="kill"))
    assert callee.take() == []
    assert_canceled(caller.take())


def test_cancel_killnowait_sends_no_interrupt_to_a_callee_that_cannot_be_interrupted(realm):
    """killnowait to a callee without call_canceling acts as skip: it gets no INTERRUPT, the caller is answered now."""
    callee, caller, invocation = invoked_call(realm, call_canceling=False)
    caller.send(message.Cancel(7, mode="killnowait"))
    assert callee.take() == []
    assert_canceled(caller.take())


def test_a_caller_leaving_interrupts_its_pending_call(realm):
    """When the caller goes, a cancelable callee gets INTERRUPT(killnowait) and its late YIELD goes nowhere."""
    callee, caller, invocation = invoked_call(realm)
    caller.transport.close()
    [interrupt] = callee.take()
    assert (interrupt.request, interrupt.mode) == (invocation.request, "killnowait")
    callee.send(message.Yield(invocation.request, args=["nobody listens"]))
    assert callee.take() == [] and not callee.closed


def test_cancel_killnowait_interrupts_and_answers_the_caller_at_once(realm):
    """killnowait: INTERRUPT to the callee and wamp.error.canceled to the caller at once; a late ERROR is dropped."""
    callee, caller, invocation = invoked_call(realm)
    caller.send(message.Cancel(7, mode="killnowait"))
    [interrupt] = callee.take()
    assert (interrupt.request, interrupt.mode) == (invocation.request, "killnowait")
    assert_canceled(caller.take())
    callee.send(message.Error(message.Invocation.MESSAGE_TYPE, invocation.request, "wamp.error.canceled"))
    assert caller.take() == []


def test_cancel_after_the_result_or_twice_changes_nothing(realm):
    """A CANCEL for a call already answered, or a second CANCEL, sends nothing to anyone."""
    callee, caller, invocation = invoked_call(realm)
    callee.send(message.Yield(invocation.request, args=["ok"]))
    [result] = caller.take()
    assert isinstance(result, message.Result) and result.args == ["ok"]
    caller.send(message.Cancel(7, mode="killnowait"))
    assert caller.take() == [] and callee.take() == []

    caller.send(message.Call(8, "app.slow"))
    callee.take()
    caller.send(message.Cancel(8, mode="kill"))
    caller.send(message.Cancel(8, mode="killnowait"))
    assert len(callee.take()) == 1 and caller.take() == []


def test_autobahn_cancel_reaches_the_callee_handler(realm):
    """Cancelling an Autobahn call cancels the callee's Deferred, and the caller sees wamp.error.canceled."""
    callee, caller = peer(realm, "svc", "trusted"), peer(realm, "alice", "user")
    working, canceled = [], []

    def slow():
        d = defer.Deferred(lambda d: canceled.append(True))
        working.append(d)
        return d

    result_of(callee.register(slow, "app.slow"))
    call = caller.call("app.slow")
    assert len(working) == 1 and not call.called
    call.cancel()
    assert canceled == [True]
    with pytest.raises(ApplicationError) as e:
        result_of(call)
    assert e.value.error == "wamp.error.canceled"
    assert caller._call_reqs == {} and callee._invocations == {}


# -- call timeout ---------------------------------------------------------------

def test_timeout_interrupts_a_cancelable_callee_at_the_deadline(realm, clock):
    """At the deadline: INTERRUPT(killnowait, timeout) to the callee, timeout to the caller; late YIELD dropped."""
    callee, caller, invocation = invoked_call(realm, timeout=1500)
    clock.advance(1.499)
    assert callee.take() == [] and caller.take() == []
    clock.advance(0.001)
    [interrupt] = callee.take()
    assert (interrupt.mode, interrupt.reason) == ("killnowait", "wamp.error.timeout")
    [error] = caller.take()
    assert (error.request, error.error) == (7, "wamp.error.timeout")
    callee.send(message.Yield(invocation.request, args=["late"]))
    assert caller.take() == []


def test_an_answered_call_leaves_no_timer_behind(realm, clock):
    """A call answered before its timeout cancels its timer: nothing is scheduled and nothing fires later."""
    callee, caller, invocation = invoked_call(realm, timeout=1000)
    assert len(clock.getDelayedCalls()) == 1
    callee.send(message.Yield(invocation.request, args=["fast"]))
    assert clock.getDelayedCalls() == []
    clock.advance(5)
    [result] = caller.take()
    assert isinstance(result, message.Result) and result.args == ["fast"]


def test_progress_goes_only_to_callers_that_asked(realm):
    """Progressive YIELDs reach a caller that set receive_progress, in order, before its final RESULT."""
    callee, caller, invocation = invoked_call(realm, receive_progress=True)
    assert invocation.receive_progress is True
    for i in range(3):
        callee.send(message.Yield(invocation.request, args=[i], progress=True))
    callee.send(message.Yield(invocation.request, args=["done"]))
    got = caller.take()
    assert [(m.args, bool(m.progress)) for m in got] == [([0], True), ([1], True), ([2], True), (["done"], False)]


def test_a_callee_leaving_fails_its_pending_calls(realm):
    """When the callee goes, the caller's pending call fails with wamp.error.canceled and a reason."""
    callee, caller, invocation = invoked_call(realm)
    callee.transport.close()
    error = assert_canceled(caller.take())
    assert "left" in error.args[0]
    caller.send(message.Call(8, "app.slow"))
    [error] = caller.take()
    assert error.error == "wamp.error.no_such_procedure"


# -- authorization through real sessions ----------------------------------------

def test_guest_sessions_are_refused_outside_their_permissions(realm):
    """A guest may use app.* but gets wamp.error.not_authorized for other URIs and invalid_uri in wamp.*."""
    guest, svc = peer(realm, "guest_1", "guest"), peer(realm, "svc", "trusted")
    result_of(svc.register(lambda: "ok", "other.proc"))
    result_of(guest.register(lambda: "mine", "app.guest.proc"))
    assert result_of(svc.call("app.guest.proc")) == "mine"
    refusals = {
        "call": guest.call("other.proc"),
        "register": guest.register(lambda: 1, "svc.mine"),
        "subscribe": guest.subscribe(lambda: 1, "other.", options=SubscribeOptions(match="prefix")),
        "publish": guest.publish("other.topic", options=PublishOptions(acknowledge=True)),
    }
    for action, d in refusals.items():
        with pytest.raises(ApplicationError) as e:
            result_of(d)
        assert e.value.error == "wamp.error.not_authorized", action
    with pytest.raises(ApplicationError) as e:
        result_of(guest.register(lambda: 1, "wamp.mine"))
    assert e.value.error == "wamp.error.invalid_uri"
    assert realm.router.metrics.denials.value == 4


def test_a_denied_publish_reaches_no_subscriber(realm):
    """A publication the publisher may not make is delivered to nobody, even a trusted prefix subscriber."""
    guest, svc = peer(realm, "guest_1", "guest"), peer(realm, "svc", "trusted")
    seen = []
    result_of(svc.subscribe(lambda *a: seen.append(a), "", options=SubscribeOptions(match="prefix")))
    guest.publish("other.topic", 1)
    guest.publish("app.topic", 2)
    assert seen == [(2,)]


def test_shared_registration_roundrobin_in_memory(realm):
    """Two callees sharing a roundrobin registration answer alternately."""
    one, two, caller = peer(realm, "one", "trusted"), peer(realm, "two", "trusted"), peer(realm, "c", "user")
    for session, name in ((one, "one"), (two, "two")):
        result_of(session.register(lambda name=name: name, "app.rr", options=RegisterOptions(invoke="roundrobin")))
    assert [result_of(caller.call("app.rr")) for _ in range(4)] == ["one", "two", "one", "two"]


def test_one_event_object_serves_every_subscriber_of_a_subscription(realm):
    """Subscribers sharing a subscription get the very same EVENT object, so it is serialized once per serializer."""
    publisher, first, second = RawPeer(realm, "p"), RawPeer(realm, "s1"), RawPeer(realm, "s2")
    for subscriber in (first, second):
        subscriber.send(message.Subscribe(1, "app.shared"))
    [sub1], [sub2] = first.take(), second.take()
    assert sub1.subscription == sub2.subscription
    publisher.send(message.Publish(1, "app.shared", args=["hi"]))
    [event1], [event2] = first.take(), second.take()
    assert event1 is event2 and event1.args == ["hi"]


def test_a_subscriber_that_cannot_take_an_event_does_not_stop_the_fan_out(realm):
    """One subscriber's transport failing on an EVENT (say, a serializer that cannot encode it) is counted
    and logged; the subscribers after it in the fan-out still get theirs."""
    publisher, broken, fine = RawPeer(realm, "p"), RawPeer(realm, "s1"), RawPeer(realm, "s2")
    for subscriber in (broken, fine):
        subscriber.send(message.Subscribe(1, "app.shared"))
    [subscribed], _ = broken.take(), fine.take()
    [broken_session] = [s for s in realm.broker.subscription(subscribed.subscription).subscribers
                        if s.info.authid == "s1"]

    def cannot_serialize(event):
        raise ValueError("this serializer cannot encode the event")

    broken_session.send_event = cannot_serialize
    errors = realm.metrics.errors.value
    publisher.send(message.Publish(1, "app.shared", args=["hi"]))
    assert broken.take() == [] and [e.args for e in fine.take()] == [["hi"]]
    assert realm.metrics.errors.value == errors + 1


def test_a_slow_authorization_holds_back_the_publishers_later_messages(realm):
    """While a dynamic rule decides one publication, the publisher's next one waits, so events keep publish order."""
    decision = defer.Deferred()
    realm.authorizer.add_rule(lambda req: decision if req.uri == "app.slow" else None)
    publisher, subscriber = RawPeer(realm, "p"), RawPeer(realm, "s")
    subscriber.send(message.Subscribe(1, "app.", match="prefix"))
    subscriber.take()
    publisher.send(message.Publish(1, "app.slow", args=[1]))
    publisher.send(message.Publish(2, "app.fast", args=[2]))
    assert subscriber.take() == []
    decision.callback(True)
    assert [e.args for e in subscriber.take()] == [[1], [2]]


def test_a_peer_flooding_behind_an_undecided_request_is_aborted(realm):
    """More than the bounded backlog of messages waiting behind an unanswered authorization ends that session."""
    realm.authorizer.add_rule(lambda req: defer.Deferred() if req.uri == "app.never" else None)
    flooder, bystander = RawPeer(realm, "f"), RawPeer(realm, "b")
    flooder.send(message.Publish(1, "app.never"))
    for i in range(MAX_BACKLOG + 1):
        flooder.send(message.Publish(i + 2, "app.more"))
    [abort] = flooder.take()
    assert isinstance(abort, message.Abort) and abort.reason == "wamp.error.protocol_violation"
    assert flooder.closed
    bystander.send(message.Publish(1, "app.fine", acknowledge=True))
    [published] = bystander.take()
    assert isinstance(published, message.Published)


# -- static rules: every request kind against every permission kind ---------------

MIXED_PERMISSIONS = [
    {"uri": "a.exact", "match": "exact", "allow": ["subscribe"]},
    {"uri": "a.pre.", "match": "prefix", "allow": ["subscribe"]},
    {"uri": "a..wild", "match": "wildcard", "allow": ["subscribe"]},
]


@pytest.mark.parametrize("uri,match,allowed", [
    # an exact permission covers that URI and nothing wider
    ("a.exact", "exact", True),
    ("a.exact.more", "exact", False),
    ("a.exact", "prefix", False),
    ("a..exact", "wildcard", False),
    # a prefix permission covers exact, prefix and wildcard requests inside it
    ("a.pre.x", "exact", True),
    ("a.pre.", "prefix", True),
    ("a.pre.x.", "prefix", True),
    ("a.pre", "prefix", False),
    ("a.", "prefix", False),
    ("a.pre.x..y", "wildcard", True),
    ("a.pre..y", "wildcard", True),
    ("a...y", "wildcard", False),
    # a wildcard permission covers the URIs it matches and the identical pattern
    ("a.b.wild", "exact", True),
    ("a.b.c.wild", "exact", False),
    ("a.b.other", "exact", False),
    ("a..wild", "wildcard", True),
    ("..wild", "wildcard", False),
    ("a.b.", "prefix", False),
])
def test_static_allows_each_request_kind_against_each_permission_kind(uri, match, allowed):
    """A pattern request is allowed only when every URI it can match lies inside one permission."""
    assert _static_allows(MIXED_PERMISSIONS, uri, "subscribe", match) is allowed
    assert _static_allows(MIXED_PERMISSIONS, uri, "publish", match) is False  # the action must be allowed too


def test_authorizer_uses_role_permissions_and_trusts_trusted():
    """The Authorizer applies a role's own rules, denies unknown roles everything and allows trusted anything."""
    authorizer = Authorizer({"reader": {"permissions": MIXED_PERMISSIONS}})
    reader = SessionInfo(1, "wampchat", "r", "reader", "ticket")
    nobody = SessionInfo(2, "wampchat", "n", "no-such-role", "ticket")
    trusted = SessionInfo(3, "wampchat", "t", "trusted", "local")
    assert authorizer.authorize(reader, "a.pre.x", "subscribe") is True
    assert authorizer.authorize(reader, "a.pre.x", "subscribe") is True  # cached answer, same result
    assert authorizer.authorize(reader, "a.pre.x", "call") is False
    assert authorizer.authorize(nobody, "a.exact", "subscribe") is False
    assert authorizer.authorize(trusted, "anything.at.all", "register", "wildcard") is True


def test_match_best_among_wildcards_prefers_fewer_gaps_then_the_longer_literal_head():
    """Among wildcards the fewest empty components win, then the pattern whose literals come first."""
    class Entry:
        def __init__(self, uri):
            self.uri = uri

    pm = PatternMap()
    for uri in ("..c", "a..c", "a.b."):
        pm.add(uri, "wildcard", Entry(uri))
    assert pm.match_best("a.b.c").uri == "a.b."
    assert pm.match_best("a.x.c").uri == "a..c"
    assert pm.match_best("z.x.c").uri == "..c"
    assert pm.match_best("a.b.c.d") is None


@pytest.mark.parametrize("content,message", [
    ('{"roles": []}', "roles must be an object"),
    ('{"roles": {"guest": "all"}}', "roles.guest must be an object"),
    ('{"roles": {"guest": {"permissions": {}}}}', "roles.guest.permissions must be a list"),
    ('{"roles": {"guest": {"permissions": [{"match": "exact"}]}}}', "roles.guest.permissions[0] needs a string 'uri'"),
    ('{"users": {}}', "users must be a list"),
])
def test_more_bad_config_files_say_where(tmp_path, content, message):
    """Each malformed section of a config file is named in the ConfigError."""
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert message in str(e.value)


def test_a_missing_config_file_is_a_config_error(tmp_path):
    """A config path that does not exist raises ConfigError naming the path, not OSError."""
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as e:
        load_config(str(missing))
    assert str(missing) in str(e.value) and "cannot read" in str(e.value)


def test_a_good_config_file_replaces_only_the_roles_it_names(tmp_path):
    """Roles named in the file replace their defaults; other roles keep theirs."""
    path = tmp_path / "config.json"
    path.write_text('{"allow_guests": false, "roles": {"guest": {"permissions": [], "disclose": false}}}')
    config = load_config(str(path))
    assert config.allow_guests is False
    assert config.roles["guest"] == {"permissions": [], "disclose": False}
    assert config.roles["user"] == default_roles()["user"]


# -- the real WebSocket transport over iosim: real framing, no socket ------------

CLIENT_SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}


class Wire:
    """Autobahn client sessions joined over the router's own WebSocket transport through iosim pumps."""

    def __init__(self, clock):
        self.clock = clock
        self.router = Router(clock, RouterConfig())
        self.factory = RouterWebSocketFactory(self.router, [s() for s in CLIENT_SERIALIZERS.values()],
                                              max_message_size=64 * 1024, outbound_buffer=1 << 20,
                                              url="ws://localhost/ws")
        self.factory.setProtocolOptions(autoPingInterval=0)
        self.pumps = []

    def join(self, serializer="json"):
        """A joined guest ApplicationSession speaking ``serializer``; returns (session, client protocol)."""
        session = Peer(ComponentConfig(realm="wampchat"))
        client_factory = WampWebSocketClientFactory(lambda: session, url="ws://localhost/ws",
                                                    serializers=[CLIENT_SERIALIZERS[serializer]()])
        server, client = self.factory.buildProtocol(None), client_factory.buildProtocol(None)
        self.pumps.append(iosim.connect(server, iosim.makeFakeServer(server), client, iosim.makeFakeClient(client),
                                        greet=True, clock=self.clock))
        assert session.details.authrole == "guest"
        return session, client

    def flush(self):
        """Deliver every byte in flight, both ways, until the wires are quiet."""
        while any([pump.pump() for pump in self.pumps]):
            pass


@pytest.fixture
def wire(clock):
    return Wire(clock)


def test_one_publication_reaches_subscribers_of_every_serializer_over_websocket(wire):
    """Over real WebSocket framing, subscribers speaking JSON, MessagePack and CBOR each get the event once."""
    publisher, _ = wire.join("json")
    seen = {}
    for name in ("json", "json", "msgpack", "cbor"):
        session, _ = wire.join(name)
        d = session.subscribe(lambda *a, name=name, **kw: seen.setdefault(name, []).append((a, kw)), "app.wire")
        wire.flush()
        result_of(d)
    d = publisher.publish("app.wire", 1, "two", three=3.5, options=PublishOptions(acknowledge=True))
    wire.flush()
    assert result_of(d).id > 0
    event = ((1, "two"), {"three": 3.5})
    assert seen == {"json": [event, event], "msgpack": [event], "cbor": [event]}


def test_call_timeout_over_websocket_follows_the_clock(wire, clock):
    """Over the real transport a 2 s call timeout fails the call exactly when the clock reaches 2 s."""
    callee, _ = wire.join("msgpack")
    caller, _ = wire.join("cbor")
    d = callee.register(lambda: defer.Deferred(), "app.wire.slow")
    wire.flush()
    result_of(d)
    call = caller.call("app.wire.slow", options=CallOptions(timeout=2000))
    wire.flush()
    clock.advance(1.999)
    wire.flush()
    assert not call.called
    clock.advance(0.001)
    wire.flush()
    with pytest.raises(ApplicationError) as e:
        result_of(call)
    assert e.value.error == "wamp.error.timeout"


def test_a_malformed_message_aborts_only_its_own_session(wire):
    """A WAMP message with an unknown type gets ABORT protocol_violation; another session keeps working."""
    bad, bad_protocol = wire.join("json")
    good, _ = wire.join("json")
    bad_protocol.sendMessage(b'[999, "nonsense"]', False)
    wire.flush()
    assert bad.aborted.reason == "wamp.error.protocol_violation" and "999" in bad.aborted.message
    assert bad.left is not None and not bad.is_attached()  # the router closed the connection
    d = good.register(lambda: "still here", "app.wire.alive")
    wire.flush()
    result_of(d)
    call = good.call("app.wire.alive")
    wire.flush()
    assert result_of(call) == "still here"


class SlowRouting:
    """A broker watcher (as the AMQP bridge is) whose routing of a new subscription waits for the test."""

    def __init__(self):
        self.pending = []

    def subscription_created(self, sub):
        d = defer.Deferred()
        self.pending.append(d)
        return d

    def subscription_deleted(self, sub):
        pass


def test_no_event_reaches_a_subscriber_before_its_subscribed(realm):
    """While a new subscription is being routed (bound on the broker), publications on the node must not reach
    the subscriber: it has not been told SUBSCRIBED, and an EVENT for an unknown id is a protocol violation."""
    routing = SlowRouting()
    realm.broker.add_watcher(routing)
    subscriber, publisher = RawPeer(realm, "alice"), RawPeer(realm, "bob")
    subscriber.send(message.Subscribe(1, "app.news"))
    publisher.send(message.Publish(2, "app.news", args=["early"]))
    assert subscriber.take() == []
    routing.pending[0].callback(None)
    [subscribed] = subscriber.take()
    assert isinstance(subscribed, message.Subscribed)
    publisher.send(message.Publish(3, "app.news", args=["late"]))
    [event] = subscriber.take()
    assert isinstance(event, message.Event) and event.args == ["late"] and event.subscription == subscribed.subscription
