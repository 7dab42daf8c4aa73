"""Router features driven by a real non-Python client: AutobahnJS in Node (tests/js/router_flow.js)."""
import json
import os
import shutil

import pytest
import pytest_twisted
from twisted.internet import utils

from helpers import Collector

JS_DIR = os.path.join(os.path.dirname(__file__), "js")
NODE = shutil.which("node")
HAVE_AUTOBAHN_JS = os.path.isdir(os.path.join(JS_DIR, "node_modules", "autobahn"))

pytestmark = pytest.mark.skipif(NODE is None or not HAVE_AUTOBAHN_JS,
                                reason="needs node and `npm ci` in tests/js (make test does both)")


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
@pytest_twisted.inlineCallbacks
def test_autobahn_js_router_features(server, clients, serializer):
    """AutobahnJS gets pub/sub, RPC, errors and progressive results, and talks to a Python peer."""
    python = yield clients(server.ws_url, serializer="msgpack")
    yield python.register(lambda text: f"python got {text}", "app.py.echo")
    inbox = Collector()
    yield python.subscribe(inbox, "app.py.inbox")

    out, err, code = yield utils.getProcessOutputAndValue(
        NODE, [os.path.join(JS_DIR, "router_flow.js"), server.ws_url, serializer],
        env=dict(os.environ), path=JS_DIR)
    assert code == 0, err.decode() + out.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])

    assert result["publicationId"] > 0
    assert result["events"] == [{"args": [1, "two"], "kwargs": {"three": 3},
                                 "publisher": result["publisherSession"]}]
    assert result["ownEvents"] == 0  # exclude_me is the default
    assert result["sum"] == 5
    assert result["noSuchProcedure"]["error"] == "wamp.error.no_such_procedure"
    assert result["calleeError"] == {"error": "app.error.x", "args": [1], "kwargs": {"a": 2}}
    assert result["notAuthorized"]["error"] == "wamp.error.not_authorized"
    assert result["progress"] == [0, 1, 2]
    assert result["progressFinal"] == "done"
    assert result["fromPython"] == "python got from node"
    events = yield inbox.wait_for(1)
    assert events[0] == (("hello python",), {})
