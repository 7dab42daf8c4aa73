"""
A private RabbitMQ node for the test session (DESIGN.md: real components).

Every path and port the node uses is under a temp dir or freshly picked, so
it never touches a system broker: its own epmd port, AMQP port, distribution
port, Mnesia dir, logs, config, enabled-plugins file, env file and HOME (the
Erlang cookie). It is started with ``rabbitmq-server``, waited for with
``rabbitmqctl -n NODE wait PIDFILE``, and stopped by its pid. ``stop()`` and
``start()`` can be called in between (the outage test restarts the broker
with its data and ports unchanged).

Besides plain AMQP on ``port`` the node has a TLS listener on ``tls_port``
with a certificate from a CA made for it (``tls_ca``, see tests/tlsca.py)
that names only ``localhost``: ``amqps://...@localhost:TLS_PORT/?cafile=CA``
verifies, and the same URL with ``127.0.0.1`` is a host name the certificate
does not name. Clients that do not ask for TLS never notice the listener.

Use it with ``from rabbitmq import rabbitmq  # noqa: F401 (fixture)`` in a
test module (or ``pytest_plugins = ["rabbitmq"]`` in ``tests/conftest.py``);
however many modules import it, the session has one node.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
BOOT_TIMEOUT = 90
STOP_TIMEOUT = 60

# Users created on the node: (name, password, tags). Nodes of wampchat log in as
# NODE_USER (listed in --amqp-node-users); outside services as SERVICE_USER.
NODE_USER = ("wcnode", "wcnode-secret")
SERVICE_USER = ("svc", "svc-secret")
OTHER_SERVICE_USER = ("bot", "bot-secret")


def free_port():
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RabbitNode:
    """One private broker: where it lives, how to reach it, how to stop and start it."""

    def __init__(self, base):
        self.base = str(base)
        self.name = f"wampchat{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.tls_port = free_port()
        self.tls_ca = None
        self.pid_file = os.path.join(self.base, "rabbit.pid")
        self.process = None
        self.env = self._environment()

    def _environment(self):
        dirs = {name: os.path.join(self.base, name) for name in ("mnesia", "log", "home", "etc")}
        for path in dirs.values():
            os.makedirs(path, exist_ok=True)
        config = os.path.join(dirs["etc"], "rabbitmq.conf")
        from tlsca import TestCA

        ca = TestCA(os.path.join(self.base, "tls"))
        cert = ca.issue("rabbitmq", dns=("localhost",), ips=())  # 127.0.0.1 deliberately not in it
        self.tls_ca = str(ca.ca_path)
        with open(config, "w") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                    f"listeners.ssl.1 = 127.0.0.1:{self.tls_port}\n"
                    f"ssl_options.cacertfile = {ca.ca_path}\n"
                    f"ssl_options.certfile = {cert.cert_path}\n"
                    f"ssl_options.keyfile = {cert.key_path}\n"
                    "ssl_options.verify = verify_none\n"        # clients need no certificate of their own
                    "ssl_options.fail_if_no_peer_cert = false\n"
                    "loopback_users = none\n"
                    "log.console = false\n"
                    "log.file.level = info\n")
        plugins = os.path.join(dirs["etc"], "enabled_plugins")
        with open(plugins, "w") as f:
            f.write("[].\n")
        env_file = os.path.join(dirs["etc"], "rabbitmq-env.conf")
        open(env_file, "w").close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": dirs["home"],
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": dirs["mnesia"],
            "RABBITMQ_LOG_BASE": dirs["log"],
            "RABBITMQ_CONFIG_FILE": config,
            "RABBITMQ_ENABLED_PLUGINS_FILE": plugins,
            "RABBITMQ_CONF_ENV_FILE": env_file,
            "RABBITMQ_PID_FILE": self.pid_file,
        })
        return env

    def ctl(self, *args, timeout=60):
        """Run ``rabbitmqctl -n NODE ARGS``; returns its stdout, raises with its output on failure."""
        result = subprocess.run([CTL, "-n", self.name, *args], env=self.env, capture_output=True, cwd=self.base,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self):
        """Boot the node (about 10-15 s) and wait until it accepts AMQP connections."""
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)
        with open(os.path.join(self.base, "server.out"), "ab") as out:
            # cwd: Erlang writes crash dumps (erl_crash.dump, MnesiaCore.*) into its working directory
            self.process = subprocess.Popen([SERVER], env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.base,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self.ctl("wait", self.pid_file, "--timeout", str(BOOT_TIMEOUT), timeout=BOOT_TIMEOUT + 10)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.stop()
            raise RuntimeError(f"RabbitMQ did not start; see {self.base}/log and server.out: {e}") from e

    def stop(self):
        """Stop the node by its pid (SIGTERM: a clean shutdown), waiting at most STOP_TIMEOUT s."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self._wait_port_closed()

    def _wait_port_closed(self):
        """After stop, the AMQP port refuses connections (so a restart can bind it)."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)  # polling a port the broker is still closing, with a deadline
        raise RuntimeError(f"RabbitMQ still listens on {self.port} after stop")

    def kill_epmd(self):
        """Stop the node's private epmd (started by Erlang on first boot)."""
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env,
                           capture_output=True, timeout=10)

    def add_user(self, name, password, tags=""):
        """Create a user with full rights on vhost ``/``."""
        self.ctl("add_user", name, password)
        self.ctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        if tags:
            self.ctl("set_user_tags", name, tags)

    def url(self, user=NODE_USER):
        """The ``--amqp`` URL for ``user`` (a (name, password) pair)."""
        return f"amqp://{user[0]}:{user[1]}@127.0.0.1:{self.port}/%2f"

    def tls_url(self, user=NODE_USER, host="localhost"):
        """An ``amqps://`` URL to the TLS listener that trusts the node's CA; ``host`` is the name checked."""
        return f"amqps://{user[0]}:{user[1]}@{host}:{self.tls_port}/%2f?cafile={self.tls_ca}"

    def pika_parameters(self, user=SERVICE_USER):
        """pika connection parameters for ``user``."""
        import pika

        return pika.ConnectionParameters("127.0.0.1", self.port, "/", pika.PlainCredentials(*user),
                                         connection_attempts=1)


_NODE = []  # the one node of this test session, however many modules import the fixture


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory):
    """A private RabbitMQ node for the session, with a node user and two service users."""
    if not os.path.exists(SERVER):
        pytest.skip("rabbitmq-server is not installed: `make test` installs it (Debian package rabbitmq-server)")
    if not _NODE:
        node = RabbitNode(tmp_path_factory.mktemp("rabbitmq"))
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
    from twisted.web.client import Agent, readBody

    response = await Agent(reactor).request(b"GET", url.encode("ascii"))
    return json.loads(await readBody(response))


def metric(server, name):
    """The current value of a counter or gauge of ``server``."""
    return server.router.metrics.value(name)
