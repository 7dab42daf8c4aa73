"""Helpers for cluster tests: wampchat nodes on one PostgreSQL database and one RabbitMQ node.

In-process nodes (``Cluster.node``) share the test's reactor and start in a
fraction of a second; ``Cluster.process`` runs a node as its own ``twistd``
process (:class:`~processes.ServerProcess`), for what only a process can
do: die by SIGKILL.
"""
import pytest

from chatkit import PASSWORD
from processes import ServerProcess
from rabbitmq import NODE_USER, bridge_of
from wampchat.testing import connect, start_server


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
        await server.service.getServiceNamed("cluster").started   # the node has joined the router across nodes
        return server

    def process(self, node_id, *extra):
        """A node as its own process (not started yet): ``.start()``, ``.kill()``."""
        return ServerProcess(node_id, self.args(node_id, *extra), self.tmp_path, ready=_link_up)

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


@pytest.fixture
def cluster(postgres, rabbitmq, tmp_path):
    """An empty cluster on a fresh database; start nodes with ``await cluster.node("a")``."""
    import pytest_twisted

    made = Cluster(postgres.new_database(), rabbitmq, tmp_path)
    yield made
    pytest_twisted.blockon(_stopped(made))


def _link_up(health):
    return health.get("amqp", {}).get("state") == "connected" and health.get("chat", {}).get("state") == "ready"


def _stopped(cluster):
    from twisted.internet import defer

    return defer.ensureDeferred(cluster.stop())
