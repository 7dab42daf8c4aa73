"""
A private RabbitMQ node for the test session (DESIGN.md: real components).

The node is :class:`wampchat.testing_servers.RabbitNode` (every path and
port its own, under a temp dir; the benchmarks start the same one); this
module is its session fixture, an outside AMQP peer written with pika, and
helpers for bridged servers.

Use it with ``from rabbitmq import rabbitmq  # noqa: F401 (fixture)`` in a
test module (or ``pytest_plugins = ["rabbitmq"]`` in ``tests/conftest.py``);
however many modules import it, the session has one node.

Besides plain AMQP on ``port`` the node has a TLS listener on ``tls_port``
with a certificate from a CA made for it (``tls_ca``, see tests/tlsca.py)
that names only ``localhost``: ``amqps://...@localhost:TLS_PORT/?cafile=CA``
verifies, and the same URL with ``127.0.0.1`` is a host name the certificate
does not name.
"""
import os

import pytest

from wampchat.testing_servers import OTHER_SERVICE_USER, NODE_USER, SERVICE_USER, RabbitNode, free_port  # noqa: F401
from wampchat.testing_servers import RABBITMQ_SERVER as SERVER

_NODE = []  # the one node of this test session, however many modules import the fixture


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory):
    """A private RabbitMQ node for the session, with a node user and two service users."""
    if not os.path.exists(SERVER):
        pytest.skip("rabbitmq-server is not installed: `make test` installs it (Debian package rabbitmq-server)")
    if not _NODE:
        from tlsca import TestCA

        base = tmp_path_factory.mktemp("rabbitmq")
        ca = TestCA(os.path.join(str(base), "tls"))
        cert = ca.issue("rabbitmq", dns=("localhost",), ips=())  # 127.0.0.1 deliberately not in it
        node = RabbitNode(base, tls=(str(ca.ca_path), str(cert.cert_path), str(cert.key_path)))
        _NODE.append(node)
        node.start()
        for name, password in (NODE_USER, SERVICE_USER, OTHER_SERVICE_USER):
            node.add_user(name, password)
    yield _NODE[0]
    if _NODE:  # session teardown (a second module's copy of this fixture finds it gone)
        node = _NODE.pop()
        node.stop()
        node.kill_epmd()


class PikaPeer:
    """An outside AMQP service, written with pika's Twisted adapter (an independent client)."""

    def __init__(self, connection, channel):
        self.connection = connection
        self.channel = channel
        self._replies = None

    @classmethod
    async def connect(cls, node, user=SERVICE_USER):
        """Log in to ``node`` as ``user`` and open a channel."""
        from pika.adapters.twisted_connection import TwistedProtocolConnection
        from twisted.internet import endpoints, protocol, reactor

        params = node.pika_parameters(user)
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", node.port)
        connection = await endpoint.connect(protocol.Factory.forProtocol(lambda: TwistedProtocolConnection(params)))
        await connection.ready
        channel = await connection.channel()
        return cls(connection, channel)

    async def listen(self, exchange="wampchat", binding="#", queue="", durable=False):
        """A queue bound to ``exchange``; returns a :class:`Inbox` of what arrives."""
        await self.channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
        declared = await self.channel.queue_declare(queue=queue, exclusive=not durable, durable=durable,
                                                    auto_delete=False)
        name = declared.method.queue
        await self.channel.queue_bind(queue=name, exchange=exchange, routing_key=binding)
        return await self.consume(name)

    async def consume(self, queue):
        messages, _tag = await self.channel.basic_consume(queue=queue, auto_ack=True)
        return Inbox(messages, queue)

    def publish(self, routing_key, body, exchange="wampchat", **properties):
        """basic.publish; ``body`` is bytes, or any other value sent as JSON."""
        import json

        import pika

        if not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
            properties.setdefault("content_type", "application/json")
        return self.channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(**properties))

    async def call(self, procedure, args=(), kwargs=None, user=SERVICE_USER[0], timeout=10, exchange="wampchat.rpc",
                   **properties):
        """An RPC over AMQP (direct reply-to), as API.md §6 describes; returns the decoded reply."""
        import json
        import uuid

        if self._replies is None:
            self._replies = await self.consume("amq.rabbitmq.reply-to")
        correlation_id = uuid.uuid4().hex
        properties.setdefault("reply_to", "amq.rabbitmq.reply-to")
        properties.setdefault("user_id", user)
        body = properties.pop("body", None)
        if body is None:
            body = {"args": list(args), "kwargs": kwargs or {}}
        await self.publish(procedure, body, exchange=exchange, correlation_id=correlation_id, **properties)
        _, method, props, reply = await self._replies.get(timeout)
        assert props.correlation_id == correlation_id
        return json.loads(reply)

    def close(self):
        if self.connection.is_open:
            self.connection.close()


class Inbox:
    """Messages arriving on a pika consumer: ``get(timeout)`` -> (channel, method, properties, body)."""

    def __init__(self, messages, queue):
        self.messages = messages
        self.queue = queue

    def get(self, timeout=10):
        from twisted.internet import reactor

        return self.messages.get().addTimeout(timeout, reactor)

    async def take(self, count, timeout=10):
        """The next ``count`` messages, each within ``timeout`` seconds."""
        return [await self.get(timeout) for _ in range(count)]

    def empty(self):
        return not self.messages.pending


# -- wampchat servers bridged to the node ------------------------------------------------------

def bridge_of(server):
    """The AmqpBridge service of a RunningServer."""
    return server.service.getServiceNamed("amqp")


async def amqp_server(make_server, node, *args, node_id="nodea"):
    """A wampchat server bridged to ``node`` as NODE_USER, once its link is up and consuming."""
    server = await make_server(["--amqp", node.url(NODE_USER), "--node-id", node_id, "--amqp-retry-max", "1", *args])
    await bridge_of(server).when_connected()
    return server


async def get_json(url):
    """GET ``url`` and parse the JSON body (e.g. /healthz)."""
    import json

    from twisted.internet import reactor
    from twisted.web.client import Agent

    from helpers import read_body

    response = await Agent(reactor).request(b"GET", url.encode("ascii"))
    return json.loads(await read_body(response))


def metric(server, name):
    """The current value of a counter or gauge of ``server``."""
    return server.router.metrics.value(name)


async def admin(server, *argv, password="service-account-secret"):
    """Run ``wampchat-admin --db <server's db> ARGV`` (the password on stdin) in a thread; its output,
    asserting it succeeded. ``admin(server, "adduser", "svc", "--role", "service")`` makes the chat account
    AMQP RPC runs as."""
    import io

    from twisted.internet import threads

    from wampchat.admin import main

    out, err = io.StringIO(), io.StringIO()
    status = await threads.deferToThread(main, ["--db", server.options["db"], *argv], io.StringIO(password + "\n"),
                                         out, err)
    assert status == 0, err.getvalue()
    return out.getvalue()


async def access_refused(action):
    """True when the broker closes the channel with 403 ACCESS_REFUSED for ``action()`` (a pika coroutine)."""
    import pika.exceptions

    try:
        await action()
    except pika.exceptions.ChannelClosedByBroker as e:
        return e.reply_code == 403
    return False
