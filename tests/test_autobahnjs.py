"""
Router features driven by a real non-Python client: AutobahnJS in Node
(tests/js/router_flow.js) against the real server on 127.0.0.1, with every
serializer AutobahnJS offers. Each Node process is killed if it outlives
NODE_TIMEOUT.
"""
import os

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from helpers import Collector
from nodejs import JS_DIR, NODE, NodeProcess, have_node_module

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SCRIPT = os.path.join(JS_DIR, "router_flow.js")
HAVE_AUTOBAHN_JS = have_node_module("autobahn")
NODE_TIMEOUT = 30.0
SERIALIZERS = ["json", "msgpack", "cbor"]

pytestmark = pytest.mark.skipif(
    NODE is None or not HAVE_AUTOBAHN_JS,
    reason="needs node on PATH and `npm ci` in tests/js; `make node-test-deps` (part of `make test`) does that")


def run_node(url, serializer, scenario):
    """Start router_flow.js for one scenario; returns its NodeProcess."""
    proc = NodeProcess(NODE_TIMEOUT)
    reactor.spawnProcess(proc, NODE, [NODE, SCRIPT, url, serializer, scenario], env=dict(os.environ),
                         path=JS_DIR)
    return proc


@defer.inlineCallbacks
def scenario_result(server, serializer, scenario):
    """Run one scenario to the end and return its result line; fail with Node's output if it failed."""
    proc = run_node(server.ws_url, serializer, scenario)
    code = yield proc.ended
    assert code == 0, proc.report()
    result = proc.lines()[-1]
    assert result["protocol"] == f"wamp.2.{serializer}"  # the serializer really was negotiated
    return result[scenario]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_js_pubsub(server, serializer):
    """An acknowledged JS publication reaches the other JS subscriber with args, kwargs and publisher id, not itself."""
    result = yield scenario_result(server, serializer, "pubsub")
    assert result["publicationId"] > 0
    assert result["events"] == [{"args": [1, "two"], "kwargs": {"three": 3}, "publisher": result["publisherSession"]},
                                {"args": ["mine too"], "kwargs": {}, "publisher": result["publisherSession"]}]
    assert result["ownEvents"] == [["mine too"]]  # exclude_me by default; exclude_me=false delivers


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_js_rpc(server, serializer):
    """A JS caller gets a JS callee's result, both a plain value and args plus kwargs."""
    result = yield scenario_result(server, serializer, "rpc")
    assert result["sum"] == 5
    assert result["kwResult"] == {"args": [2], "kwargs": {"seen": {"x": "y"}}}


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_js_errors(server, serializer):
    """JS sees no_such_procedure, a callee's error URI with its args and kwargs, and not_authorized."""
    result = yield scenario_result(server, serializer, "errors")
    assert result["noSuchProcedure"]["error"] == "wamp.error.no_such_procedure"
    assert result["calleeError"] == {"error": "app.error.x", "args": [1], "kwargs": {"a": 2}}
    for denied in ("notAuthorizedPublish", "notAuthorizedCall", "notAuthorizedRegister"):
        assert result[denied]["error"] == "wamp.error.not_authorized", denied


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_js_progressive_results(server, serializer):
    """A JS caller with receive_progress gets every progress in order, then the final result; without it, none."""
    result = yield scenario_result(server, serializer, "progress")
    assert result["progress"] == [0, 1, 2]
    assert result["progressFinal"] == "done"
    assert result["withoutProgress"] == "caller did not ask for progress"


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_js_and_python_talk_both_ways(server, clients, serializer):
    """JS calls and publishes to a Python session, and the Python session calls and publishes to JS."""
    python = yield clients(server.ws_url, serializer="msgpack")
    yield python.register(lambda text: f"python got {text}", "app.py.echo")
    inbox = Collector()
    yield python.subscribe(inbox, "app.py.inbox")

    proc = run_node(server.ws_url, serializer, "peer")
    yield proc.wait_for_line(lambda line: line.get("ready"))
    answer = yield python.call("app.js.echo", "from python", lang="py")
    yield python.publish("app.js.inbox", "hello node", n=2)
    code = yield proc.ended
    assert code == 0, proc.report()

    result = proc.lines()[-1]["peer"]
    assert answer == "node got from python"
    assert result["callsFromPython"] == [{"args": ["from python"], "kwargs": {"lang": "py"}}]
    assert result["fromPythonEvents"] == [{"args": ["hello node"], "kwargs": {"n": 2}}]
    assert result["fromPython"] == "python got from node"
    events = yield inbox.wait_for(1)
    assert events == [(("hello python",), {"n": 1})]


@pytest_twisted.inlineCallbacks
def test_js_takes_the_url_from_the_environment(server):
    """With no arguments, router_flow.js reads WAMPCHAT_URL and WAMPCHAT_SERIALIZER and runs every scenario but peer."""
    proc = NodeProcess(NODE_TIMEOUT)
    env = dict(os.environ, WAMPCHAT_URL=server.ws_url, WAMPCHAT_SERIALIZER="msgpack")
    reactor.spawnProcess(proc, NODE, [NODE, SCRIPT], env=env, path=JS_DIR)
    code = yield proc.ended
    assert code == 0, proc.report()
    result = proc.lines()[-1]
    assert result["protocol"] == "wamp.2.msgpack"
    assert set(result) == {"protocol", "pubsub", "rpc", "errors", "progress"}
    assert result["rpc"]["sum"] == 5


@pytest_twisted.inlineCallbacks
def test_js_reports_a_failure_with_a_nonzero_exit(server):
    """A scenario that cannot run (no WAMP endpoint at the URL) makes Node exit 1 with the reason on stderr."""
    proc = NodeProcess(NODE_TIMEOUT)
    env = dict(os.environ, WAMPCHAT_URL=server.ws_url.replace("/ws", "/nowhere"))
    reactor.spawnProcess(proc, NODE, [NODE, SCRIPT, "", "json", "rpc"], env=env, path=JS_DIR)
    code = yield proc.ended
    assert code == 1, proc.report()
    assert "closed before join" in proc.err.decode()
