"""
Router features and the chat API driven by wampy.js in Node
(tests/js/wampy_flow.mjs) against the real server on 127.0.0.1, over JSON,
MessagePack and CBOR. wampy.js sends JavaScript ``undefined`` for the
options it leaves unset, so over MessagePack and CBOR these tests also prove
that the router reads those as absent instead of aborting the session. Each
Node process is killed if it outlives NODE_TIMEOUT.
"""
import pytest
import pytest_twisted
from twisted.internet import defer

from nodejs import NODE, have_node_module, spawn_node

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SCRIPT = "wampy_flow.mjs"
NODE_TIMEOUT = 30.0
SERIALIZERS = ["json", "msgpack", "cbor"]

pytestmark = pytest.mark.skipif(
    NODE is None or not have_node_module("wampy"),
    reason="needs node on PATH and `npm ci` in tests/js; `make node-test-deps` (part of `make test`) does that")


@defer.inlineCallbacks
def scenario(server, serializer, name):
    """Run one wampy scenario to the end and return what it observed; fail with Node's output if it failed."""
    proc = spawn_node(SCRIPT, [server.ws_url, serializer, name], NODE_TIMEOUT)
    code = yield proc.ended
    assert code == 0, proc.report()
    result = proc.lines()[-1]
    assert result["protocol"] == f"wamp.2.{serializer}", proc.report()  # the serializer really was negotiated
    return result[name]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_pubsub(server, serializer):
    """A wampy publication reaches the other wampy subscriber with args, kwargs and publisher id, and not the publisher.

    (Each side also gets only the other's publication: b's own "from b" is excluded from b too.)
    """
    result = yield scenario(server, serializer, "pubsub")
    assert result["publicationId"] > 0
    assert result["events"] == [{"args": [1, "two"], "kwargs": {"three": 3}, "publisher": result["publisherSession"]}]
    assert result["ownEvents"] == [["from b"]]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_eligible_exclude_unsubscribe_unregister(server, serializer):
    """wampy publishes to eligible and excluded session ids, unsubscribes and unregisters: over CBOR every id
    above 2**32 arrives as an integral float (cbor-x), which the router reads as the id, keeping the session."""
    result = yield scenario(server, serializer, "audience")
    assert result["got"] == {"b": ["only b", "everyone"], "c": ["all but b", "everyone"]}
    assert result["called"] == ["registered"]
    assert result["afterUnregister"] == "wamp.error.no_such_procedure"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_pattern_subscriptions(server, serializer):
    """Prefix and wildcard subscriptions get matching events with the concrete topic; exact ones without it."""
    result = yield scenario(server, serializer, "patterns")
    assert result["seen"] == [  # in publish order; an exact subscription's events carry no topic
        {"kind": "prefix", "topic": "app.wampy.p.one", "args": [1]},
        {"kind": "wildcard", "topic": "app.wampy.x.w", "args": [2]},
        {"kind": "exact", "args": [3]},
    ]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_rpc_and_errors(server, serializer):
    """wampy calls get results, a callee's error URI with args and kwargs, no_such_procedure and not_authorized."""
    result = yield scenario(server, serializer, "rpc")
    assert result["sum"] == [5]
    assert result["kwResult"] == {"args": [2], "kwargs": {"seen": {"x": "y"}}}
    assert result["calleeError"] == {"error": "app.error.x", "args": [1], "kwargs": {"a": 2}}
    assert result["noSuchProcedure"]["error"] == "wamp.error.no_such_procedure"
    assert result["notAuthorizedCall"]["error"] == "wamp.error.not_authorized"
    assert result["notAuthorizedRegister"]["error"] == "wamp.error.not_authorized"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_progressive_results(server, serializer):
    """A wampy caller with a progress callback gets every progress in order, then the result; without it, none."""
    result = yield scenario(server, serializer, "progress")
    assert result == {"progress": [0, 1, 2], "final": ["done"], "withoutProgress": ["caller did not ask for progress"]}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_call_timeout(server, serializer):
    """A wampy call nobody answers fails with wamp.error.timeout, not before its 300 ms; the session goes on."""
    result = yield scenario(server, serializer, "timeout")
    assert result["timedOut"]["error"] == "wamp.error.timeout"
    assert result["elapsedMs"] >= 290  # timers may fire a hair early against Date.now()
    assert result["invoked"] == 1
    assert result["after"] == ["pong"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_shared_registrations(server, serializer):
    """Two wampy callees take turns on a roundrobin procedure; a second single or mixed-policy one is refused."""
    result = yield scenario(server, serializer, "shared")
    assert result["answers"] == ["one", "two", "one", "two"]
    assert result["conflict"]["error"] == "wamp.error.procedure_already_exists"
    assert result["mixed"]["error"] == "wamp.error.procedure_exists_with_different_invocation_policy"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_ticket_and_wampcra_login(server, serializer):
    """A user registered from wampy logs in with ticket and wampcra (wampy's plugin); a wrong password is refused."""
    result = yield scenario(server, serializer, "login")
    username = f"wampy_{serializer}"
    assert result["ticket"] == {"authid": username, "authrole": "user", "authmethod": "ticket"}
    assert result["wampcra"] == {"authid": username, "authrole": "user", "authmethod": "wampcra"}
    assert result["wrong"] == "wamp.error.not_authorized"
    assert result["me"] == {"user": username, "nick": username, "role": "user"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_wampy_chat_flow(server, clients, serializer):
    """A wampy guest joins the lobby, sends a message, gets it as a lobby event, and the server stored it."""
    result = yield scenario(server, serializer, "chat")
    assert result["room"]["id"] == "lobby"
    assert result["me"]["role"] == "guest" and result["me"]["nick"] == "Wampy"
    sent = result["sent"]
    assert (sent["room"], sent["text"], sent["nick"], sent["client_msg_id"]) == ("lobby", "hello from wampy", "Wampy",
                                                                                "w-1")
    assert result["events"] == [sent]
    reader = yield clients(server.ws_url, serializer="msgpack")
    page = yield reader.call("chat.message.history", "lobby")
    assert [m["id"] for m in page["messages"]] == [sent["id"]]


@pytest_twisted.inlineCallbacks
def test_wampy_script_reports_a_failure_with_a_nonzero_exit(server):
    """A scenario that cannot run (no WAMP endpoint at the URL) makes Node exit 1 with the reason on stderr."""
    proc = spawn_node(SCRIPT, [server.ws_url.replace("/ws", "/nowhere"), "json", "rpc"], NODE_TIMEOUT)
    code = yield proc.ended
    assert code == 1, proc.report()
    assert proc.err.strip(), proc.report()
