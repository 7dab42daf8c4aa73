"""
The examples in docs/API.md run as they are written, against a real server:
the Autobahn|Python one as a separate Python process, the pika one against
the private RabbitMQ through a bridged server, the browser page in headless
Chromium. An example marked ``<!-- example: NAME -->`` that drifts from the
code fails here, not in a reader's hands.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest_twisted
from twisted.internet import threads

from browser import REPO, browsers, requires_browser  # noqa: F401 (browsers is a fixture)
from rabbitmq import SERVICE_USER, admin, amqp_server, rabbitmq  # noqa: F401 (fixture)

API_MD = REPO / "docs" / "API.md"


def example(name):
    """The code block that follows ``<!-- example: name -->`` in docs/API.md."""
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```[a-z]*\n(.*?)\n```", API_MD.read_text(), flags=re.S)
    assert found, f"docs/API.md has no example {name!r}"
    return found.group(1) + "\n"


def run_python(code, env_extra, tmp_path):
    """Run ``code`` in a new Python process (in a worker thread, so the in-process server keeps serving)."""
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k not in ("WAMPCHAT_URL", "AMQP_URL")}
    env.update(env_extra)
    return threads.deferToThread(subprocess.run, [sys.executable, str(script)], capture_output=True, text=True,
                                 timeout=60, env=env, cwd=str(tmp_path))


def test_readme_links_the_api_reference():
    """The README points at docs/API.md and nowhere outside the repository for the API."""
    readme = (REPO / "README.md").read_text()
    assert "(docs/API.md)" in readme
    assert "../shared" not in readme and "../shared" not in API_MD.read_text()


def test_every_procedure_is_documented(server):
    """Each chat.* procedure the chat service registers has a row in the procedure table."""
    registered = {reg.uri for reg in server.router.realm("wampchat").dealer._by_id.values()
                  if reg.uri.startswith("chat.")}  # read from the running node, wherever the code defines them
    assert len(registered) >= 15
    text = API_MD.read_text()
    for procedure in registered:
        assert f"| `{procedure}` |" in text, procedure


@pytest_twisted.ensureDeferred
async def test_python_example(server, tmp_path):
    """The Python example sends once (retry too), hears its event, reacts, finds change and text, gets forbidden."""
    result = await run_python(example("python"), {"WAMPCHAT_URL": server.ws_url}, tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"joined as guest_[0-9a-f]{8} guest$", out, flags=re.M), out  # lines carry a timestamp
    assert "the retry is the same message: True" in out
    assert "event: Py hello from Python" in out
    assert "after mine: 0 more: False" in out
    assert re.search(r"reactions: \{'👍': \['guest_[0-9a-f]{8}'\]\}", out), out
    assert "changed since I joined: [True]" in out
    assert "search finds mine: True" in out
    assert "error: wampchat.error.forbidden" in out


@pytest_twisted.ensureDeferred
async def test_pika_example(rabbitmq, make_server, tmp_path):
    """The pika example sends through AMQP RPC as its broker user and sees the message mirrored back."""
    server = await amqp_server(make_server, rabbitmq)
    await admin(server, "adduser", SERVICE_USER[0], "--role", "service")  # as the example's text says
    url = f"amqp://{SERVICE_USER[0]}:{SERVICE_USER[1]}@127.0.0.1:{rabbitmq.port}/%2f"
    result = await run_python(example("pika"), {"AMQP_URL": url}, tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"^sent \d{17}[a-z0-9]+ as svc$", out, flags=re.M), out
    assert "event on chat.room.lobby.message from node nodea : hello from pika" in out
    assert server.port is not None


@requires_browser
@pytest_twisted.ensureDeferred
async def test_browser_example(make_server, browsers, tmp_path):
    """The page example, served by wampchat with its AutobahnJS, joins, sends, hears itself and gets not_found."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "hello.html").write_text(example("browser-html"))
    (web / "hello.js").write_text(example("browser-js"))
    (web / "node_modules").symlink_to(pathlib.Path(REPO / "web" / "node_modules"))
    server = await make_server(["--web", str(web)])
    page = await browsers("reader")
    await page.open(f"{server.http_url}/hello.html")
    await page.wait_text("#log", "Page reader: hello from a page")
    text = await page.wait_text("#log", "error: wampchat.error.not_found")
    assert re.search(r"joined as guest_[0-9a-f]{8} \(guest\)", text), text
    assert "Lobby: members 1, recent messages 0" in text, text
