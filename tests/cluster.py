"""Helpers for cluster tests: wampchat nodes on one PostgreSQL database and one RabbitMQ node.

In-process nodes (``Cluster.node``) share the test's reactor and start in a
fraction of a second; ``NodeProcess`` runs a node as its own ``twistd``
process, for what only a process can do: die by SIGKILL.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from chatkit import PASSWORD
from postgres import free_port
from rabbitmq import NODE_USER, bridge_of
from wampchat.testing import connect, start_server

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


class Cluster:
    """Nodes on one database and one broker, and the sessions opened on them (all closed at the end)."""

    def __init__(self, db, rabbitmq, tmp_path):
        self.db = db
        self.rabbitmq = rabbitmq
        self.tmp_path = tmp_path
        self.nodes = {}
        self.sessions = []

    def args(self, node_id, *extra, user=NODE_USER):
        return ["--db", self.db, "--amqp", self.rabbitmq.url(user), "--node-id", node_id,
                "--amqp-retry-max", "1", *extra]

    async def node(self, node_id, *extra, user=NODE_USER):
        """Start an in-process node (as broker ``user``) once its link consumes; returns its RunningServer."""
        server = await start_server(self.args(node_id, *extra, user=user), self.tmp_path)
        self.nodes[node_id] = server
        await bridge_of(server).when_connected()
        return server

    async def connect(self, node, **kwargs):
        server = self.nodes[node] if isinstance(node, str) else node
        session = await connect(server.ws_url, **kwargs)
        self.sessions.append(session)
        return session

    def guest(self, node, nick):
        return self.connect(node, authmethods=["anonymous"], authextra={"nick": nick})

    def user(self, node, username, method="ticket", password=PASSWORD):
        return self.connect(node, authmethods=[method], authid=username, secret=password)

    async def register(self, node, username, display_name=None):
        """Register through chat.user.register on ``node`` from a throw-away guest session."""
        guest = await self.guest(node, f"reg {username}")
        kwargs = {"display_name": display_name} if display_name else {}
        await guest.call("chat.user.register", username, PASSWORD, **kwargs)
        guest.leave()
        await guest.closed

    async def stop(self):
        for session in self.sessions:
            transport = session._transport
            if transport is not None and transport.isOpen():
                transport.close()
        for server in self.nodes.values():
            await server.stop()
        self.nodes = {}


class NodeProcess:
    """A node as its own ``twistd -n wampchat`` process, on a port of its own."""

    def __init__(self, cluster, node_id, *extra):
        self.node_id = node_id
        self.port = free_port()
        self.argv = [TWISTD, "-n", "--pidfile=", "wampchat", "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                     *cluster.args(node_id, *extra)]
        self.log = os.path.join(str(cluster.tmp_path), f"{node_id}.log")
        self.process = None

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def health(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as response:
            return json.loads(response.read())

    def start(self, timeout=60):
        """Start the process and wait (polling /healthz, with a deadline) until it serves and its link is up."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node {self.node_id} exited with {self.process.returncode}; see {self.log}")
            try:
                if self.health().get("amqp", {}).get("state") == "connected":
                    return self
            except OSError:
                pass
            time.sleep(0.1)  # polling a starting process's health endpoint, with a deadline
        raise RuntimeError(f"node {self.node_id} did not come up within {timeout}s; see {self.log}")

    def kill(self):
        """SIGKILL: no goodbye, no clean-up; the cluster must notice by itself."""
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


@pytest.fixture
def cluster(postgres, rabbitmq, tmp_path):
    """An empty cluster on a fresh database; start nodes with ``await cluster.node("a")``."""
    import pytest_twisted

    made = Cluster(postgres.new_database(), rabbitmq, tmp_path)
    yield made
    pytest_twisted.blockon(_stopped(made))


def _stopped(cluster):
    from twisted.internet import defer

    return defer.ensureDeferred(cluster.stop())
