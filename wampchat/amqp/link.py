"""
The connection to RabbitMQ: one logical link that outlives connections.

The bridge decides *what* crosses to and from the broker; this module decides
*how* that survives the broker: reconnecting with backoff
(:mod:`~wampchat.amqp.reconnect`), logging in and opening one channel in
confirm mode, setting it up again each time (the bridge's ``on_setup``), and
handing the channel to the :class:`~wampchat.amqp.publishing.Publisher`
(the outbox, resent in order) and the
:class:`~wampchat.amqp.consuming.Consumers` (deliveries, acked or rejected
on the channel they came from).
"""
from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger
from txamqp import spec as txamqp_spec

from wampchat.amqp.client import SPEC_PATH, ClientFactory, mute
from wampchat.amqp.consuming import PREFETCH, Consumers
from wampchat.amqp.publishing import Publisher
from wampchat.amqp.queues import LINK_CHANNEL, QueueFound, declare_queue
from wampchat.amqp.reasons import reason_text, unreachable_text
from wampchat.amqp.reconnect import AttemptsEndpoint, QuietClientService, RetryLog
from wampchat.amqp.url import AmqpUrl

HANDSHAKE_TIMEOUT = 30.0   # seconds from TCP connect to a ready channel


class AmqpLink(service.Service):
    """One logical link to the broker that outlives connections.

    ``on_setup(link, channel)`` runs on every new connection before anything
    is published (declare exchanges and queues, call ``consume``); ``publish``
    queues a message in the outbox and never blocks; ``state`` is
    ``connecting`` (an attempt is under way), ``connected``, or ``down``
    (stopped, or waiting to retry after a failure).
    """

    log = Logger()

    def __init__(self, reactor, url, on_setup, metrics, outbox_limit=10000, retry_max=10.0,
                 spec_path=SPEC_PATH, on_drop=None):
        self.reactor = reactor
        self.url = url if isinstance(url, AmqpUrl) else AmqpUrl(url)
        self._on_setup = on_setup
        self._spec = txamqp_spec.load(spec_path)
        self.state = "down"
        self._client = None
        self._channel = None
        self._waiters = []
        self._service = None
        self.publisher = Publisher(reactor, self.log, metrics, outbox_limit, on_drop)
        self.consumers = Consumers(self.log)
        self.on_lost = []   # called when a connection that was set up is lost (e.g. calls between nodes end)
        self.outbox = self.publisher.outbox
        # What callers and the client's frame reader (wampchat.amqp.receiving) call, bound once: the
        # publisher's and consumers' own methods, with no call in between on these per-message paths.
        self.publish = self.publisher.publish
        self.consume = self.consumers.consume
        self._confirmed = self.publisher.confirmed
        self._nacked = self.publisher.nacked
        self._delivered = self.consumers.delivered
        self._retries = RetryLog(self.log, retry_max, self.where, lambda: self.running)
        m = metrics
        self.m_connects = m.counter("wampchat_amqp_connects_total", "AMQP connections set up")
        self.m_failures = m.counter("wampchat_amqp_connection_failures_total",
                                    "AMQP connection attempts or set-ups that failed (incl. refused logins)")
        self.m_channel_errors = m.counter("wampchat_amqp_channel_errors_total", "channels the broker closed on us")
        m.gauge("wampchat_amqp_outbox", "messages waiting for the broker (pending + unconfirmed)",
                lambda: len(self.outbox))
        m.gauge("wampchat_amqp_connected", "1 while the AMQP link is up", lambda: int(self.state == "connected"))

    # -- service ---------------------------------------------------------------
    def startService(self):
        super().startService()
        factory = ClientFactory(self, self._spec, self.url.vhost, self.url.heartbeat, self.reactor)
        endpoint = AttemptsEndpoint(self.url.endpoint(self.reactor), self)
        self._service = QuietClientService(endpoint, factory, retryPolicy=self._retries.delay, clock=self.reactor,
                                           prepareConnection=self._prepare)
        self._service.startService()

    @defer.inlineCallbacks
    def stopService(self):
        super().stopService()
        client = self._client
        if len(self.outbox):
            self.log.warn("AMQP link stopping with {n} publications the broker has not confirmed",
                          n=len(self.outbox))
        if client is not None and not client.closed:
            try:
                yield client.close(within=2)
            except Exception:
                self.log.failure("closing the AMQP connection")
        self.publisher.stop()
        if self._service is not None:
            yield self._service.stopService()
        self.state = "down"
        self._wake_waiters(defer.CancelledError("the AMQP link stopped"))

    def when_connected(self):
        """A Deferred that fires once the link is connected and set up (now, if it is)."""
        if self.state == "connected":
            return defer.succeed(self)
        d = defer.Deferred()
        self._waiters.append(d)
        return d

    def _wake_waiters(self, result=None):
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            if isinstance(result, Exception):
                d.errback(result)
            else:
                d.callback(self)

    # -- connecting --------------------------------------------------------------
    @property
    def where(self):
        """The broker as the log names it: host:port, never the user name or password of the URL."""
        return f"{self.url.host}:{self.url.port}"

    def _attempting(self):
        self.state = "connecting"

    def _unreachable(self, failure):
        if self.running:
            self.state = "down"
            self.m_failures.inc()
            self._retries.note("warn", "AMQP broker {where} unreachable ({why})",
                               why=unreachable_text(failure, self.url.host))
        return failure

    def _prepare(self, proxy):
        """Log in, open a confirm-mode channel, run ``on_setup``; on any failure drop the connection.

        ClientService counts a failed prepare as a failed attempt (so a
        refused login backs off), but it neither closes that connection nor
        expects a disconnect afterwards; we close it, and mute the proxy's
        disconnect notice for a connection that never became ready.
        """
        client = proxy._protocol if hasattr(proxy, "_protocol") else proxy
        client.proxy = proxy
        d = client.handshake = defer.ensureDeferred(self._handshake(client))
        timer = self.reactor.callLater(HANDSHAKE_TIMEOUT, d.cancel)

        def done(result):
            if timer.active():
                timer.cancel()
            return result

        def failed(failure):
            self.state = "down"
            self.m_failures.inc()
            self._retries.note("error", "AMQP connection to {where} failed during set-up: {why}",
                               why=reason_text(failure, host=self.url.host))
            self._abandon(client)
            return failure

        d.addBoth(done)
        d.addErrback(failed)
        return d

    def _abandon(self, client):
        """Close a connection that will not be used, without confusing ClientService."""
        mute(client)
        if self._client is client:
            self._client = self._channel = None
            self.consumers.detach()
        if client.transport is not None:
            client.transport.loseConnection()

    async def _handshake(self, client):
        # txamqp fails each of these when the connection drops; the timeout covers the rest.
        await client.start("\0" + self.url.username + "\0" + self.url.password, "PLAIN")
        channel = await client.channel(LINK_CHANNEL)
        await channel.channel_open()
        await channel.confirm_select()
        await channel.basic_qos(prefetch_count=PREFETCH)
        self._client, self._channel = client, channel
        self.consumers.attach(client, channel)
        await defer.maybeDeferred(self._on_setup, self, channel)
        client.ready = True
        self.state = "connected"
        self.m_connects.inc()
        self.log.info("AMQP link up: {where}; {n} publications waiting", where=self.where, n=len(self.outbox))
        self.publisher.attach(client, channel)
        self._wake_waiters()

    async def declare_queue(self, name: str, arguments: dict, fresh: bool = False) -> QueueFound:
        """Declare the durable queue ``name`` (from ``on_setup``) and say whether it was there already
        (see :func:`wampchat.amqp.queues.declare_queue`)."""
        return await declare_queue(self._client, self.log, name, arguments, fresh)

    # -- losing it -----------------------------------------------------------------
    def _lost(self, client, reason):
        if not client.ready and client.handshake is not None and not client.handshake.called:
            client.handshake.cancel()  # txamqp usually failed it already; this covers the rest
        if client is not self._client:
            return
        self._client = self._channel = None
        self.consumers.detach()
        requeued = self.publisher.detach()
        self.state = "down"
        for callback in self.on_lost:
            callback()
        if self.running:
            self._retries.note("warn", "AMQP link to {where} lost ({why}); {n} publications wait, {u} of them to "
                               "be resent", why=reason_text(reason, host=self.url.host), n=len(self.outbox),
                               u=requeued)

    def _channel_failed(self, client, channel, reason):
        """The broker closed our channel (e.g. a missing exchange): start over on a new connection."""
        self.m_channel_errors.inc()
        self.log.error("the broker closed the AMQP channel: {why}; reconnecting", why=reason_text(reason))
        if client.transport is not None:
            client.transport.loseConnection()

    def _consumer_cancelled(self, client, consumer_tag):
        self.log.warn("the broker cancelled consumer {tag} (queue deleted?); reconnecting to set up again",
                      tag=consumer_tag)
        if client is self._client and client.transport is not None:
            client.transport.loseConnection()
