"""What a new user meets on a first `twistd -n wampchat`: start-up errors, a clean stop, the build and the broker.

Most of these run the real ``twistd`` from the venv as a subprocess with a
temporary ``--db``, because what is checked is what a terminal shows: one
line and an exit code, not an exception inside a test process.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from helpers import poll_until

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
CHECKOUT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60  # seconds: a process start on a busy 2-core machine


def run_twistd(tmp_path: Path, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess:
    """``twistd -n wampchat ARGS`` with a database in ``tmp_path``, to its end (bounded by ``timeout``)."""
    argv = [TWISTD, "-n", "--pidfile=", "wampchat", "--db", str(tmp_path / "first.sqlite"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path),
                          stdin=subprocess.DEVNULL)


def output_lines(result: subprocess.CompletedProcess) -> list:
    return [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that something else is listening on."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder.getsockname()[1]
    holder.close()


# -- 1. a port already in use --------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--listen", "--rawsocket"])
def test_a_port_in_use_stops_the_start_with_one_line(tmp_path, busy_port, option):
    """A busy --listen or --rawsocket port: exit 1 at once, one line naming the endpoint, no traceback."""
    endpoint = f"tcp:{busy_port}:interface=127.0.0.1"
    args = [option, endpoint] + (["--listen", "tcp:0:interface=127.0.0.1"] if option == "--rawsocket" else [])
    result = run_twistd(tmp_path, *args)
    output = result.stderr + result.stdout
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    problems = [line for line in output_lines(result) if "cannot listen" in line]
    assert len(problems) == 1, output
    assert problems[0].endswith(f"wampchat: cannot listen on {endpoint}: address already in use"), output


# -- 2. a bad option value -------------------------------------------------------------------------

BAD_OPTIONS = {
    "listen": (["--listen", "tcp:notaport"], "--listen 'tcp:notaport' is not a valid Twisted server endpoint"),
    "rawsocket": (["--rawsocket", "bogus:1"], "--rawsocket 'bogus:1' is not a valid Twisted server endpoint"),
    "size": (["--max-message-size", "lots"], "--max-message-size must be a positive whole number of bytes"),
    "unknown": (["--lisen", "tcp:8080"], "--lisen"),
    "cross-check": (["--node-heartbeat", "20"], "--node-timeout (15.0) must be longer than node-heartbeat (20.0)"),
    "file-key": (["--config-file", "{tmp}/bad-key.toml"], "{tmp}/bad-key.toml: unknown key 'max_subscriptions'"),
    "file-value": (["--config-file", "{tmp}/bad-value.toml"], "{tmp}/bad-value.toml: send-rate must be"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_a_bad_option_says_why_in_one_line_without_the_usage(tmp_path, case):
    """A bad value (command line or --config-file): exit 1 and one line with the reason, not the usage text."""
    (tmp_path / "bad-key.toml").write_text("max_subscriptions = 5\n")
    (tmp_path / "bad-value.toml").write_text("send-rate = 0\n")
    args, expected = BAD_OPTIONS[case]
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = run_twistd(tmp_path, *args)
    lines = output_lines(result)
    assert result.returncode == 1, lines
    assert len(lines) == 1, "\n".join(lines)
    assert lines[0].startswith("wampchat: ") and expected.replace("{tmp}", str(tmp_path)) in lines[0], lines


def test_help_still_prints_the_usage(tmp_path):
    """--help is where the usage text belongs."""
    result = run_twistd(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "--listen=" in result.stdout and "--config-file=" in result.stdout


# -- 3. a clean stop ----------------------------------------------------------------------------

LOUD_LEVEL = re.compile(r"#(warn|error|critical)\]")


def wait_for_port(proc: subprocess.Popen, log_path: Path, timeout: float = START_TIMEOUT) -> int:
    """The port the server logs it listens on, once it does (polling its log with a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"twistd exited {proc.returncode}: {log_path.read_text()}"
        found = re.search(r"listening on tcp:0:interface=127\.0\.0\.1 \(.*port=(\d+)\)", log_path.read_text())
        if found:
            return int(found.group(1))
        time.sleep(0.05)  # polling a child process's log, bounded by the deadline
    raise TimeoutError(f"twistd did not listen within {timeout}s: {log_path.read_text()}")


def wait_for_chat(port: int, timeout: float = START_TIMEOUT) -> None:
    """Wait (with a deadline) until /healthz says the chat service is ready."""
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if json.loads(response.read())["chat"]["state"] == "ready":
                    return
        except OSError:
            pass
        time.sleep(0.05)  # polling a child process's health, bounded by the deadline
    raise TimeoutError(f"chat not ready within {timeout}s")


def test_sigterm_stops_cleanly_without_warnings(tmp_path):
    """SIGTERM after a normal start: a clean exit, and nothing in the log at warn level or above.

    twistd re-raises the SIGTERM once it has shut down, so "clean" is exit
    status 0 or death by that SIGTERM after "Server Shut Down."
    """
    log_path = tmp_path / "twistd.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([TWISTD, "-n", "--pidfile=", "--logfile=-", "wampchat", "--db",
                                 str(tmp_path / "first.sqlite"), "--listen", "tcp:0:interface=127.0.0.1"],
                                cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_chat(wait_for_port(proc, log_path))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    log = log_path.read_text()
    assert proc.returncode in (0, -signal.SIGTERM), log
    assert "Server Shut Down." in log
    assert [line for line in log.splitlines() if LOUD_LEVEL.search(line)] == [], log


# -- 4. packaging: no setuptools warning about the AMQP spec --------------------------------------

def test_build_py_declares_the_amqp_spec_as_package_data(tmp_path):
    """Building a copy of the project prints no "Package would be ignored" warning and keeps the spec XML."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(CHECKOUT / name, project / name)
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "static")
    shutil.copytree(CHECKOUT / "wampchat", project / "wampchat", ignore=ignore)
    shutil.copytree(CHECKOUT / "twisted", project / "twisted", ignore=ignore)
    shutil.copytree(CHECKOUT / "web", project / "web", ignore=ignore)
    autobahn = project / "web" / "node_modules" / "autobahn-browser"  # what `npm ci` would put there
    autobahn.mkdir(parents=True)
    (autobahn / "autobahn.min.js").write_text("// stand-in\n")
    (autobahn / "LICENSE").write_text("MIT\n")
    result = subprocess.run([sys.executable, "setup.py", "build_py", "--build-lib", str(tmp_path / "lib")],
                            cwd=project, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "would be ignored" not in output and "not declared as package data" not in output, output
    assert (tmp_path / "lib" / "wampchat" / "amqp" / "spec" / "amqp0-9-1.stripped.extended.xml").is_file()
    assert (tmp_path / "lib" / "wampchat" / "static" / "index.html").is_file()


# -- 6. a broker that is down -------------------------------------------------------------------

def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest_twisted.ensureDeferred
async def test_a_broker_that_is_down_is_one_line_per_retry(tmp_path, make_server):
    """With the broker down each retry logs one line, host:port and reason, no traceback and no password."""
    port = closed_port()
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        server = await make_server(["--amqp", f"amqp://nodeuser:s3cret-pw@127.0.0.1:{port}/",
                                    "--amqp-retry-max", "0.2"])
        link = next(child for child in server.service if hasattr(child, "link")).link
        await poll_until(lambda: link.m_failures.value >= 4, timeout=30)
    finally:
        globalLogPublisher.removeObserver(events.append)
    noise = [e for e in events if _about_the_broker(e)]
    texts = [formatEvent(e) for e in noise]
    failures = int(link.m_failures.value)
    retries = [t for t in texts if f"AMQP broker 127.0.0.1:{port} unreachable (connection refused); retrying in" in t]
    assert failures - 1 <= len(retries) <= failures and len(retries) >= 3, texts
    assert len(texts) == len(retries), texts  # nothing else: no factory start/stop, no ClientService line
    assert not any("log_failure" in e for e in noise), texts
    assert not any("s3cret-pw" in t or "nodeuser" in t for t in texts), texts
    assert all(e["log_level"] == LogLevel.warn for e in noise), texts


def _about_the_broker(event: dict) -> bool:
    namespace = event.get("log_namespace", "")
    return namespace.startswith(("wampchat.amqp", "twisted.application._client_service"))
