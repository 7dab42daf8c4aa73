"""wampchat as its own ``twistd -n wampchat`` process: for tests of what only a process does (SIGKILL, RSS)."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from postgres import free_port
from wampchat.testing import GENEROUS_LIMITS

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


class ServerProcess:
    """One server process on a port of its own; ``ready(health)`` says when /healthz shows it serving."""

    def __init__(self, name, args, log_dir, ready=None):
        self.name = name
        self.port = free_port()
        generous = [part for option in GENEROUS_LIMITS.items() for part in option]  # args given later win
        self.argv = [TWISTD, "-n", "--pidfile=", "wampchat", "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                     *generous, *args]
        self.log = os.path.join(str(log_dir), f"{name}.log")
        self.ready = ready or _chat_ready
        self.process = None

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self):
        return self.process.pid

    def health(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as response:
            return json.loads(response.read())

    def rss_kb(self):
        """Resident memory of the process, from /proc."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def start(self, timeout=60):
        """Start and wait (polling /healthz with a deadline) until it serves."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            try:
                if self.ready(self.health()):
                    return self
            except OSError:
                pass
            time.sleep(0.1)  # polling a starting process's health endpoint, with a deadline
        raise RuntimeError(f"{self.name} did not come up within {timeout}s; see {self.log}")

    def kill(self):
        """SIGKILL: no goodbye, no clean-up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _chat_ready(health):
    return health.get("chat", {}).get("state") == "ready"


@pytest.fixture
def processes():
    """Server processes a test starts (append them); any still running are stopped at the end."""
    started = []
    yield started
    for process in started:
        process.stop()
