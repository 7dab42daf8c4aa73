"""A chat flow driven by AutobahnJS in Node (tests/js/chat_flow.js) against a real server."""
import json
import os
import shutil

import pytest
import pytest_twisted
from twisted.internet import utils

from chatkit import PASSWORD, world  # noqa: F401 (fixture)

JS_DIR = os.path.join(os.path.dirname(__file__), "js")
NODE = shutil.which("node")
HAVE_AUTOBAHN_JS = os.path.isdir(os.path.join(JS_DIR, "node_modules", "autobahn"))


@pytest.mark.skipif(NODE is None or not HAVE_AUTOBAHN_JS,
                    reason="needs node and `npm ci` in tests/js (make test does both)")
@pytest_twisted.inlineCallbacks
def test_autobahn_js_conversation(world):
    """Node AutobahnJS clients log in three ways, talk in the lobby, a private room and a DM, and catch up."""
    yield world.register("ann")
    yield world.register("bob")
    out, err, code = yield utils.getProcessOutputAndValue(
        NODE, [os.path.join(JS_DIR, "chat_flow.js"), world.server.ws_url, PASSWORD], env=dict(os.environ),
        path=JS_DIR)
    assert code == 0, err.decode() + out.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["me"] == {"user": "ann", "nick": "ann", "role": "user"}
    assert result["guestMe"]["role"] == "guest" and result["guestMe"]["nick"] == "Gus"
    assert result["retrySame"] is True
    assert [(m["user"], m["text"]) for m in result["lobbyEvents"]] == [("ann", "hello from node <b>!</b>")]
    assert result["invite"]["event"] == "invited" and result["invite"]["room"]["id"] == "jsroom"
    assert [m["text"] for m in result["privateEvents"]] == ["members only"]
    assert result["guestSubscribe"] == "wamp.error.not_authorized"
    assert result["guestHistory"] == "wampchat.error.not_found"
    assert result["guestPublish"] == "wamp.error.not_authorized"
    assert result["dm"]["private"] is True and result["dm"]["id"].startswith("dm_")
    assert result["caughtUp"] == result["missed"]
    assert {"id": result["dm"]["id"], "unread": 3} in result["rooms"]
    assert result["badText"] == "wampchat.error.invalid_argument"
    assert result["badRoom"] == "wampchat.error.not_found"
    # what Node saw is what the server stored
    bob = yield world.user("bob", register=False)
    page = yield bob.call("chat.message.history", result["dm"]["id"])
    assert [m["id"] for m in page["messages"]] == result["missed"]
