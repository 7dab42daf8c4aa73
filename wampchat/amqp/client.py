"""
txamqp's client as the link uses it: the protocol, its delegate and its factory.

txamqp speaks AMQP 0-9-1; these classes add what the link needs of it:
confirms and deliveries read directly (:mod:`wampchat.amqp.receiving`), body
frames kept as bytes, the capabilities we announce, and every channel error,
cancelled consumer and lost connection reported to ``client.link``.
"""
import os

from txamqp.client import TwistedDelegate
from txamqp.protocol import AMQClient
from twisted.internet import protocol

from wampchat.amqp.frames import CompleteFrames
from wampchat.amqp.receiving import DirectReceive

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec", "amqp0-9-1.stripped.extended.xml")

CLIENT_PROPERTIES = {
    "product": "wampchat",
    "capabilities": {"authentication_failure_close": True, "consumer_cancel_notify": True,
                     "publisher_confirms": True, "basic.nack": True, "connection.blocked": False},
}


class Delegate(TwistedDelegate):
    """The broker's methods that still go through txamqp (confirms and deliveries are read directly,
    see :mod:`wampchat.amqp.receiving`)."""

    def __init__(self, link):
        super().__init__()
        self.link = link

    def connection_start(self, ch, msg):
        # Capabilities: a refused login is told (403) rather than the socket just closing,
        # and a deleted queue cancels our consumer (basic.cancel) instead of going quiet.
        ch.connection_start_ok(client_properties=CLIENT_PROPERTIES, mechanism=self.client.mechanism,
                               response=self.client.response, locale=self.client.locale)

    def basic_return_(self, ch, msg):
        self.link.log.warn("the broker returned an unroutable message to {key}: {text}",
                           key=msg.routing_key, text=msg.reply_text)

    def basic_cancel(self, ch, msg):
        self.link._consumer_cancelled(self.client, msg.consumer_tag)


class Client(DirectReceive, CompleteFrames, AMQClient):
    """txamqp's client: confirms and deliveries read directly, body frames kept as bytes, channel errors
    reported to the link."""

    link = None
    proxy = None
    handshake = None
    ready = False

    def connectionMade(self):
        # Without TCP_NODELAY the kernel holds a small write back until the broker acknowledges the one
        # before (Nagle), and the broker acknowledges late (delayed ACK, up to 40 ms): a call to another
        # node, four small messages through the broker, took about 90 ms instead of about 2.
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        super().connectionMade()

    def channel_failed(self, channel, reason):
        if getattr(channel, "scratch", False):
            return  # a refusal on a scratch channel is an answer (see queues.on_scratch), not a failure
        self.link._channel_failed(self, channel, reason)

    def connectionLost(self, reason):
        if not self.ready:
            mute(self)  # ClientService learns of it through the failed prepareConnection
        super().connectionLost(reason)
        self.link._lost(self, reason)


class ClientFactory(protocol.Factory):
    """One :class:`Client` per connection attempt, each reporting to the same link."""

    noisy = False  # no "Starting factory" / "Stopping factory" per connection attempt

    def __init__(self, link, spec, vhost, heartbeat, clock):
        self.link = link
        self.spec = spec
        self.vhost = vhost
        self.heartbeat = heartbeat
        self.clock = clock

    def buildProtocol(self, addr):
        client = Client(Delegate(self.link), vhost=self.vhost, spec=self.spec, heartbeat=self.heartbeat,
                        clock=self.clock)
        client.link = self.link
        return client


def mute(client: Client) -> None:
    """Stop ClientService's proxy from reporting the loss of a connection that never became ready.

    ClientService (Twisted 26.10) has no transition for a disconnect while a
    prepareConnection is running or after it failed, and raises from
    connectionLost; the failed prepare already told it the attempt failed.
    """
    proxy = client.proxy
    if proxy is not None and hasattr(proxy, "_lostNotification"):
        proxy._lostNotification = lambda reason: None
