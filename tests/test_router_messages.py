"""The router's own INVOCATION and RESULT (router/outgoing.py) are Autobahn's, byte for byte, and the CALL,
YIELD and HELLO it reads without Autobahn's general parser (router/incoming_calls.py, router/incoming_hello.py)
read as Autobahn reads them."""
import itertools

import msgpack
import pytest
from autobahn.wamp import message

from wampchat.router import incoming_hello
from wampchat.router.incoming_calls import ParsedCall, ParsedYield
from wampchat.router.outgoing import RoutedInvocation, RoutedResult
from wampchat.router.serializers import wamp_serializers

ARGS = (None, [], [1, "two", 3.5])
KWARGS = (None, {}, {"k": [True, None]})


@pytest.mark.parametrize("args,kwargs", list(itertools.product(ARGS, KWARGS)))
def test_an_invocation_is_autobahns_on_every_serializer(args, kwargs):
    for progress, caller, procedure in ((None, None, None), (True, 7, "app.x.y"), (False, 9, None)):
        who = (caller, "alice" if caller else None, "user" if caller else None)
        ours = RoutedInvocation(5, 99, args, kwargs, progress, *who, procedure)
        theirs = message.Invocation(5, 99, args=args, kwargs=kwargs, receive_progress=progress, caller=who[0],
                                    caller_authid=who[1], caller_authrole=who[2], procedure=procedure)
        assert ours.marshal() == theirs.marshal()
        assert (ours.args, ours.kwargs, ours.caller_authid, ours.procedure) == \
            (theirs.args, theirs.kwargs, theirs.caller_authid, theirs.procedure)
        for serializer in wamp_serializers():
            assert serializer.serialize(ours) == serializer.serialize(theirs)


@pytest.mark.parametrize("args,kwargs", list(itertools.product(ARGS, KWARGS)))
def test_a_result_is_autobahns_on_every_serializer(args, kwargs):
    for progress in (None, True):
        ours = RoutedResult(8, args=args, kwargs=kwargs, progress=progress)
        theirs = message.Result(8, args=args, kwargs=kwargs, progress=progress)
        assert ours.marshal() == theirs.marshal() and ours.progress == theirs.progress
        for serializer in wamp_serializers():
            assert serializer.serialize(ours) == serializer.serialize(theirs)


CALLS = [
    [48, 1, {}, "app.echo"], [48, 2, {}, "app.echo", [1, "x"]], [48, 3, {}, "app.echo", [], {"k": 1}],
    [48, 4, {"receive_progress": True, "timeout": 500}, "app.echo", [1]], [48, 5, {"receive_progress": False}, "a.b"],
    # not the everyday shape: Autobahn's parser decides (and refuses what it refuses)
    [48, 6, {"disclose_me": True}, "app.echo"], [48, 7, {}, "app.echo", None, {"k": 1}],
    [48, 8, {"timeout": -1}, "app.echo"], [48, 9, {"timeout": True}, "app.echo"], [48, 10, {}, "app..echo"],
    [48, 11, {}, 5], [48, 2 ** 53 + 1, {}, "app.echo"], [48, 12, {}, "app.echo", "payload"], [48, 13, [], "a"],
    [48, 14, {}, "app.echo", [1], [2]], [48, 15, {"receive_progress": None}, "app.echo"],
]
YIELDS = [
    [70, 1, {}], [70, 2, {}, [1]], [70, 3, {"progress": True}, [1], {"a": 2}], [70, 4, {}, [], {}],
    [70, 5, {"progress": 1}, [1]], [70, 6, {"callee": 3}, [1]], [70, 7, {}, {"not": "a list"}], [70, -1, {}],
    [70, 8, {}, None, {"k": 1}],
]


def parsed_or_refused(parse, raw):
    """``(marshal(), args, kwargs, class)`` of the parsed message, or the refusal's text."""
    try:
        msg = parse(list(raw))
    except Exception as e:  # noqa: BLE001 - the refusal is what is compared
        return str(e)
    return msg.marshal(), msg.args, msg.kwargs, type(msg)


EVERYDAY = 5   # the first five CALLs and the first four YIELDs take the fast path


@pytest.mark.parametrize("raw", CALLS + YIELDS, ids=repr)
def test_the_everyday_call_and_yield_parse_as_autobahn_parses_them(raw):
    """Every CALL and YIELD reads (or is refused) exactly as Autobahn's own parser reads it; the everyday
    ones without it."""
    serializer = wamp_serializers()[1]
    autobahn_class = message.Call if raw[0] == 48 else message.Yield
    ours = parsed_or_refused(lambda r: serializer.unserialize(msgpack.packb(r), True)[0], raw)
    theirs = parsed_or_refused(autobahn_class.parse, raw)
    assert ours[:3] == theirs[:3]
    everyday = raw in CALLS[:EVERYDAY] or raw in YIELDS[:EVERYDAY - 1]
    assert (type(ours) is tuple and ours[3] in (ParsedCall, ParsedYield)) == everyday


JS_ROLES = {"caller": {"features": {"caller_identification": True, "progressive_call_results": True}},
            "callee": {"features": {"progressive_call_results": True, "call_canceling": True}},
            "publisher": {"features": {"publisher_exclusion": True}},
            "subscriber": {"features": {"pattern_based_subscription": True}}}
HELLOS = [
    [1, "realm1", {"roles": JS_ROLES, "authmethods": ["anonymous"]}],
    [1, "realm1", {"roles": JS_ROLES, "authmethods": ["ticket"], "authid": "alice", "authextra": {"x": 1}}],
    # the known roles with a bad field elsewhere: refused as Autobahn refuses it
    [1, "realm1", {"roles": JS_ROLES, "authid": 5}], [1, "bad..realm", {"roles": JS_ROLES}],
    [1, "realm1", {"roles": JS_ROLES, "authmethods": "anonymous"}], [1, "realm1", {"roles": JS_ROLES}, "extra"],
    # roles of another shape: Autobahn reads the whole HELLO
    [1, "realm1", {"roles": {"caller": {}}}], [1, "realm1", {"roles": {"caller": {"features": {"x": "y"}}}}],
    [1, "realm1", {"roles": {"emperor": {"features": {}}}}], [1, "realm1", {"roles": {}}], [1, "realm1", {}],
    [1, "realm1", {"roles": {"caller": {"features": {}, "other": 1}}}],
    [1, "realm1", {"roles": {"caller": {"features": {"progressive_call_results": 1}}}}],
]


@pytest.mark.parametrize("raw", HELLOS, ids=repr)
def test_a_hello_reads_as_autobahn_reads_it_the_first_time_and_after(raw):
    """A HELLO reads (or is refused) as Autobahn's parser reads it, both when its roles are new and when
    they are known already (read a second time)."""
    serializer = wamp_serializers()[1]

    def marshalled_or_refused(parse):
        try:
            return parse(list(raw)).marshal()
        except Exception as e:  # noqa: BLE001 - the refusal is what is compared
            return str(e)

    theirs = marshalled_or_refused(message.Hello.parse)
    for _ in range(2):
        assert marshalled_or_refused(lambda r: serializer.unserialize(msgpack.packb(r), True)[0]) == theirs


def test_known_roles_are_bounded():
    """Peers sending ever new feature flags cannot grow the roles kept past MAX_KNOWN_ROLES."""
    for n in range(incoming_hello.MAX_KNOWN_ROLES + 10):
        roles = {"caller": {"features": {f"flag{n}": True}}}
        assert incoming_hello.parse_hello([1, "realm1", {"roles": roles}]).roles["caller"] is not None
    assert 0 < len(incoming_hello._known_roles) <= incoming_hello.MAX_KNOWN_ROLES
