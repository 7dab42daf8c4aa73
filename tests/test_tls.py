"""
TLS end to end, with a CA made by the test (tests/tlsca.py) and no system trust store:

- ``--listen ssl:...`` serves the page and ``/ws``: Autobahn|Python over
  ``wss://`` trusting the CA, AutobahnJS in Node trusting it through
  ``NODE_EXTRA_CA_CERTS`` (and refusing the server without it), and the page in
  headless Chromium over https, trusting the one server key with
  ``--ignore-certificate-errors-spki-list``;
- ``--amqp amqps://`` to the private RabbitMQ's TLS listener, the broker's
  certificate checked for the host name by service-identity: the right name
  connects (and RabbitMQ reports the connection as TLS), a name the
  certificate does not carry, or a CA the link was not told to trust, is
  refused with a log line that says so.
"""
import os
import types as pytypes

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp import types
from autobahn.wamp.serializer import JsonSerializer
from twisted.internet import defer, endpoints, protocol, reactor, ssl
from twisted.internet.error import ConnectionDone
from twisted.logger import formatEvent, globalLogPublisher

from browser import browsers, requires_browser  # noqa: F401 (browsers is a fixture)
from helpers import poll_until
from nodejs import JS_DIR, NODE, NodeProcess, have_node_module
from rabbitmq import NODE_USER, PikaPeer, bridge_of, metric, rabbitmq  # noqa: F401 (fixture)
from test_web_chat import join_as_guest, open_room, say
from tlsca import TestCA
from wampchat.testing import ClientSession

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

ACK = types.PublishOptions(acknowledge=True)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A test CA and a server certificate for localhost and 127.0.0.1."""
    authority = TestCA(tmp_path_factory.mktemp("tls"))
    authority.server = authority.issue("server", dns=("localhost",), ips=("127.0.0.1",))
    return authority


@pytest.fixture
def tls_server(make_server, ca):
    """A wampchat serving only ``--listen ssl:0:...`` on 127.0.0.1 with the test CA's server certificate."""
    return pytest_twisted.blockon(make_server(["--listen", ca.server.listen()]))


class LogLines:
    """Every log event of the process while the test runs, formatted as text."""

    def __init__(self):
        self.lines = []

    def __call__(self, event):
        text = formatEvent(event)
        if text:
            self.lines.append(text)

    def matching(self, *words):
        return [line for line in self.lines if all(word in line for word in words)]


@pytest.fixture
def log_lines():
    lines = LogLines()
    globalLogPublisher.addObserver(lines)
    yield lines
    globalLogPublisher.removeObserver(lines)


# -- the page and /ws over TLS ----------------------------------------------------------------

def wss_url(server):
    return f"wss://127.0.0.1:{server.port}/ws"


async def join_over_wss(server, ca_path, hostname="127.0.0.1"):
    """An Autobahn|Python guest over wss:// trusting only ``ca_path``; the certificate is checked for ``hostname``."""
    with open(ca_path, "rb") as f:
        trust = ssl.Certificate.loadPEM(f.read())
    session = ClientSession(types.ComponentConfig(realm="wampchat"), ["anonymous"], None, None, {"nick": "Tess"})
    factory = WampWebSocketClientFactory(lambda: session, url=wss_url(server), serializers=[JsonSerializer()])
    tcp = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", server.port)
    await endpoints.wrapClientTLS(ssl.optionsForClientTLS(hostname, trustRoot=trust), tcp).connect(factory)
    await session.joined.addTimeout(15, reactor)
    return session


class HandshakeOutcome(protocol.Protocol):
    """A TLS client that sends nothing and records why its connection ended (a failed handshake, or our close)."""

    def __init__(self):
        self.ended = defer.Deferred()

    def connectionLost(self, reason):
        self.ended.callback(reason.value)


async def tls_handshake_error(port, ca_path, hostname="127.0.0.1"):
    """Connect with TLS trusting only ``ca_path``; the error that ended the handshake (None if it was accepted)."""
    with open(ca_path, "rb") as f:
        trust = ssl.Certificate.loadPEM(f.read())
    client = HandshakeOutcome()
    tcp = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port)
    await endpoints.wrapClientTLS(ssl.optionsForClientTLS(hostname, trustRoot=trust), tcp).connect(
        protocol.Factory.forProtocol(lambda: client))
    client.transport.write(b"GET /healthz HTTP/1.0\r\n\r\n")  # after the handshake, if it succeeds
    reason = await client.ended.addTimeout(15, reactor)
    return None if isinstance(reason, ConnectionDone) else reason


@pytest_twisted.ensureDeferred
async def test_python_client_over_wss(tls_server, ca, tmp_path):
    """Autobahn|Python joins over wss:// trusting the test CA, and sends a chat message; an untrusted CA fails."""
    session = await join_over_wss(tls_server, ca.ca_path)
    try:
        sent = await session.call("chat.message.send", "lobby", "hello over wss")
        history = await session.call("chat.message.history", "lobby")
        assert [m["text"] for m in history["messages"]] == ["hello over wss"] and sent["text"] == "hello over wss"
    finally:
        session.leave()
    assert await tls_handshake_error(tls_server.port, ca.ca_path) is None  # the check below can tell them apart
    other = TestCA(tmp_path / "other-ca")  # same server, a CA that did not sign its certificate
    error = await tls_handshake_error(tls_server.port, other.ca_path)
    assert "certificate verify failed" in str(error), error


@pytest.mark.skipif(NODE is None or not have_node_module("autobahn"),
                    reason="needs node on PATH and `npm ci` in tests/js; `make node-test-deps` (part of `make test`)")
@pytest_twisted.inlineCallbacks
def test_autobahnjs_in_node_over_wss(tls_server, ca):
    """AutobahnJS in Node reaches the router over wss:// with NODE_EXTRA_CA_CERTS=the test CA, and not without it."""
    script = os.path.join(JS_DIR, "router_flow.js")

    def run(env):
        proc = NodeProcess(30.0)
        reactor.spawnProcess(proc, NODE, [NODE, script, wss_url(tls_server), "json", "rpc"], env=env, path=JS_DIR)
        return proc

    base = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    trusted = run(dict(base, NODE_EXTRA_CA_CERTS=str(ca.ca_path)))
    code = yield trusted.ended
    assert code == 0, trusted.report()
    assert trusted.lines()[-1]["rpc"]["sum"] == 5

    untrusted = run(base)  # only Node's own CA list: our server's certificate is not trusted
    code = yield untrusted.ended
    assert code == 1, untrusted.report()
    assert "closed before join" in untrusted.err.decode(), untrusted.report()


@requires_browser
@pytest_twisted.ensureDeferred
async def test_page_in_chromium_over_https(tls_server, ca, browsers):
    """The page loads over https in headless Chromium trusting the server's key, talks wss://, and sends a message."""
    https = pytypes.SimpleNamespace(url=f"https://127.0.0.1:{tls_server.port}/")
    ann = await browsers("ann", flags=[f"--ignore-certificate-errors-spki-list={ca.server.spki_sha256}"])
    await join_as_guest(ann, https, "Ann")
    assert await ann.js("return location.protocol;") == "https:"
    await open_room(ann, "lobby")
    await say(ann, "hello over https")
    session = await join_over_wss(tls_server, ca.ca_path)  # it really went through the TLS server
    try:
        history = await session.call("chat.message.history", "lobby")
        assert [m["text"] for m in history["messages"]] == ["hello over https"]
    finally:
        session.leave()

    eve = await browsers("eve")  # no trust for the test key: Chromium stops at its certificate error page
    await eve.open(https.url)
    assert await eve.js("return document.getElementById('guest-nick') === null && typeof autobahn === 'undefined';")
    assert "privacy error" in (await eve.js("return document.title;")).lower()  # the interstitial, not a blank page


# -- AMQP over TLS ------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_amqps_link_verifies_the_broker_and_carries_publications(rabbitmq, make_server, clients):
    """amqps:// to the broker's TLS listener by its certificate's name connects over TLS and mirrors publications."""
    server = await make_server(["--amqp", rabbitmq.tls_url(host="localhost"), "--node-id", "tlsnode",
                                "--amqp-retry-max", "1"])
    bridge = bridge_of(server)
    await bridge.when_connected()
    assert bridge.link.url.tls and bridge.link.url.port == rabbitmq.tls_port
    # RabbitMQ itself says the node's connection is TLS, on the TLS port
    connections = rabbitmq.ctl("list_connections", "user", "ssl", "port", "--no-table-headers", "-q")
    assert f"{NODE_USER[0]}\ttrue\t{rabbitmq.tls_port}" in connections.splitlines(), connections
    peer = await PikaPeer.connect(rabbitmq)
    try:
        inbox = await peer.listen(binding="app.tls.#")
        alice = await clients(server.ws_url)
        await alice.publish("app.tls.hello", "over amqps", options=ACK)
        (_, method, props, body), = await inbox.take(1)
        assert method.routing_key == "app.tls.hello" and b"over amqps" in body
        assert props.headers["wampchat-node"] == "tlsnode"
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_amqps_refuses_a_host_name_the_certificate_does_not_name(rabbitmq, make_server, log_lines):
    """amqps:// to 127.0.0.1 (the broker's certificate names only localhost) is refused, logged as a name mismatch."""
    server = await make_server(["--amqp", rabbitmq.tls_url(host="127.0.0.1"), "--amqp-retry-max", "1"])
    bridge = bridge_of(server)
    expected = "TLS: the broker's certificate is not valid for '127.0.0.1', the host name in the URL"
    await poll_until(lambda: log_lines.matching("AMQP connection to 127.0.0.1:", expected), timeout=20)
    assert bridge.link.state != "connected"
    assert metric(server, "wampchat_amqp_connection_failures_total") >= 1
    connections = rabbitmq.ctl("list_connections", "user", "ssl", "--no-table-headers", "-q")
    assert f"{NODE_USER[0]}\ttrue" not in connections.splitlines(), connections


@pytest_twisted.ensureDeferred
async def test_amqps_refuses_a_broker_signed_by_an_untrusted_ca(rabbitmq, make_server, log_lines):
    """amqps:// without ?cafile= trusts only the system's CAs, so the test CA's broker is refused and logged."""
    url = rabbitmq.tls_url(host="localhost").split("?")[0]
    server = await make_server(["--amqp", url, "--amqp-retry-max", "1"])
    expected = "TLS: the certificate of the broker at 'localhost' is not signed by a trusted CA"
    await poll_until(lambda: log_lines.matching(expected, "add ?cafile=ca.pem"), timeout=20)
    assert bridge_of(server).link.state != "connected"
