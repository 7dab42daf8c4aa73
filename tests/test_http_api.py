"""API §11 HTTP API over real sockets, on both stores: POST /api/publish and /api/call with a bearer token, as
exactly that user's WAMP session (permissions, chat rules, rate limits), WAMP errors mapped to HTTP statuses,
and every refusal (no, bad or revoked token, wrong scope, forged chat publication, size, method, JSON)."""
import json
import os
import pathlib
import re
import shutil

import pytest
import pytest_twisted
from twisted.internet import defer, utils

from chatkit import make_world, world  # noqa: F401 (fixtures)
from httpapi import post, user_with_token


@pytest_twisted.inlineCallbacks
def test_call_runs_as_the_tokens_user(world):
    ann, token = yield user_with_token(world, "ann")
    status, answer, _ = yield post(world, "/api/call", {"procedure": "chat.user.me"}, token)
    assert (status, answer) == (200, {"args": [{"user": "ann", "nick": "ann", "role": "user"}], "kwargs": {}})
    yield ann.call("chat.room.join", "lobby")
    heard = yield world.listen(ann, "chat.room.lobby.message")
    status, answer, _ = yield post(world, "/api/call", {"procedure": "chat.message.send",
                                                        "args": ["lobby", "hello over HTTP"]}, token)
    assert status == 200 and answer["args"][0]["user"] == "ann" and answer["args"][0]["text"] == "hello over HTTP"
    yield heard.wait_for(1)
    assert heard.events[0][0][0]["text"] == "hello over HTTP"


@pytest_twisted.inlineCallbacks
def test_publish_reaches_subscribers_and_chat_topics_are_refused(world):
    ann, token = yield user_with_token(world, "ann")
    heard = yield world.listen(ann, "app.demo")
    status, answer, _ = yield post(world, "/api/publish", {"topic": "app.demo", "args": [1], "kwargs": {"a": 2}},
                                   token)
    assert status == 200 and isinstance(answer["id"], int)
    yield heard.wait_for(1)
    assert heard.events[0] == ((1,), {"a": 2})
    forged = {"topic": "chat.room.lobby.message", "args": [{"user": "admin", "text": "forged"}]}
    status, answer, _ = yield post(world, "/api/publish", forged, token)
    assert status == 403 and answer["error"] == "wamp.error.not_authorized"
    status, answer, _ = yield post(world, "/api/publish", {"topic": "wamp.session.on_join"}, token)
    assert status == 400 and answer["error"] == "wamp.error.invalid_uri"


@pytest_twisted.inlineCallbacks
def test_wamp_errors_map_to_http_statuses(world):
    _, token = yield user_with_token(world, "ann")
    cases = [({"procedure": "app.nobody.here"}, 404, "wamp.error.no_such_procedure"),
             ({"procedure": "chat.message.send", "args": ["lobby", ""]}, 400, "wampchat.error.invalid_argument"),
             ({"procedure": "chat.room.history", "args": ["no_such_room"]}, 404, None),
             ({"procedure": "chat.admin.nothing"}, 404, None),
             ({"procedure": "svc.deploy"}, 404, "wamp.error.no_such_procedure"),
             ({"procedure": "not a uri!"}, 400, "wamp.error.invalid_argument")]
    for body, status, error in cases:
        got, answer, _ = yield post(world, "/api/call", body, token)
        assert got == status, (body, answer)
        assert set(answer) >= {"error", "args"}
        assert error is None or answer["error"] == error, (body, answer)


@pytest_twisted.inlineCallbacks
def test_wrong_scope_is_403_and_timeouts_504(world):
    ann, token = yield user_with_token(world, "ann")
    callee = yield world.connect(authmethods=["anonymous"])
    status, answer, _ = yield post(world, "/api/call", {"procedure": "wamp.session.list"}, token)
    assert (status, answer["error"]) == (403, "wamp.error.not_authorized")    # a user's role may not list sessions
    never = defer.Deferred()
    yield callee.register(lambda: never, "app.slow")
    status, answer, _ = yield post(world, "/api/call", {"procedure": "app.slow", "options": {"timeout": 50}}, token)
    assert (status, answer["error"]) == (504, "wamp.error.timeout")


@pytest_twisted.inlineCallbacks
def test_tokens_are_needed_and_revoked_ones_refused(world):
    ann, token = yield user_with_token(world, "ann")
    body = {"procedure": "chat.user.me"}
    for bad in (None, "", "nonsense", token[:-2] + "xx", token.replace("wct_", "wcx_")):
        status, answer, headers = yield post(world, "/api/call", body, bad)
        assert status == 401 and answer["error"] == "wamp.error.not_authorized", bad
        assert headers.getRawHeaders(b"www-authenticate") == [b'Bearer realm="wampchat"']
    token_id = (yield ann.call("chat.user.tokens"))[0]["id"]
    yield ann.call("chat.user.revoke_token", token_id)
    assert (yield post(world, "/api/call", body, token))[0] == 401


@pytest_twisted.inlineCallbacks
def test_bad_requests_are_refused_with_json(world):
    _, token = yield user_with_token(world, "ann")
    assert (yield post(world, "/api/call", raw=b"{not json", token=token))[0] == 400
    assert (yield post(world, "/api/call", ["a list"], token))[0] == 400
    assert (yield post(world, "/api/call", {"procedure": "chat.user.me", "args": {}}, token))[0] == 400
    assert (yield post(world, "/api/call", {"procedure": "chat.user.me", "options": []}, token))[0] == 400
    big = {"procedure": "app.x", "args": ["x" * (64 * 1024)]}
    assert (yield post(world, "/api/call", big, token))[0] == 413
    status, _, headers = yield post(world, "/api/call", None, token, method="GET")
    assert status == 405 and headers.getRawHeaders(b"allow") == [b"POST"]
    assert (yield post(world, "/api/other", {}, token))[0] == 404


@pytest_twisted.inlineCallbacks
def test_the_users_send_limit_and_the_per_token_limit_apply(make_world):
    world = yield make_world(["--send-rate", "3"])
    ann, token = yield user_with_token(world, "ann")
    yield ann.call("chat.room.join", "lobby")
    statuses = []
    for i in range(5):
        status, answer, headers = yield post(world, "/api/call", {"procedure": "chat.message.send",
                                                                  "args": ["lobby", f"m{i}"]}, token)
        statuses.append(status)
    assert statuses[:3] == [200] * 3 and statuses[3] == 429
    assert answer["error"] == "wampchat.error.rate_limited" and headers.getRawHeaders(b"retry-after")
    results = yield defer.gatherResults([post(world, "/api/publish", {"topic": "app.t"}, token)
                                         for _ in range(60)])
    refused = [answer for status, answer, _ in results if status == 429]   # 40 at once, then 20 a second
    assert refused and all(answer["error"] == "wampchat.error.rate_limited" for answer in refused)


# -- the curl examples of docs/API.md, run as written ----------------------------------------------------------
def docs_example(name):
    """The code block after ``<!-- example: name -->`` in docs/API.md."""
    text = (pathlib.Path(__file__).parent.parent / "docs" / "API.md").read_text()
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```[a-z]*\n(.*?)\n```", text, flags=re.S)
    assert found, f"docs/API.md has no example {name!r}"
    return found.group(1) + "\n"


def run_shell(world, script, **env):
    """(stdout lines, exit status) of ``script`` run by sh, pointed at the world's node instead of port 8080."""
    script = script.replace("http://127.0.0.1:8080", world.server.http_url)
    d = utils.getProcessOutputAndValue("/bin/sh", ["-c", script], env={"PATH": os.environ["PATH"], **env})
    return d.addCallback(lambda out: (out[0].decode().splitlines(), out[2]))


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on PATH: `make system-deps-test` (part of `make test`) installs it")
@pytest_twisted.inlineCallbacks
def test_the_curl_examples_in_the_docs_work(world):
    ann, token = yield user_with_token(world, "ann")
    yield ann.call("chat.room.join", "lobby")
    heard = yield world.listen(ann, "app.deploys")
    lines, status = yield run_shell(world, docs_example("http-api"), TOKEN=token)
    assert status == 0 and len(lines) == 4, lines
    assert json.loads(lines[0])["args"][0]["user"] == "ann"
    assert json.loads(lines[1])["args"][0]["text"] == "hello from curl"
    assert isinstance(json.loads(lines[2])["id"], int)
    assert lines[3] == "403"
    yield heard.wait_for(1)
    assert heard.events[0] == ((), {"version": "1.2.3"})
    assert (yield ann.call("chat.message.history", "lobby"))["messages"][-1]["text"] == "hello from curl"
    yield ann.call("chat.room.create", "builds", "Builds", True)
    hook = yield ann.call("chat.room.webhook_create", "builds", "Build Bot")
    lines, status = yield run_shell(world, docs_example("webhook"), HOOK_PATH=hook["url"])
    assert status == 0 and json.loads(lines[0])["nick"] == "Build Bot"
    history = yield ann.call("chat.message.history", "builds")
    assert [m["text"] for m in history["messages"]] == ["build 42 is out"]
