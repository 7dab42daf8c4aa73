"""
The connection to RabbitMQ: txamqp kept up by a ClientService, one channel in
confirm mode, and the ordered, bounded :class:`~wampchat.amqp.outbox.Outbox`.

The bridge decides *what* crosses to and from the broker; this module decides
*how* that survives the broker: reconnecting with backoff, setting the channel
up again each time (the bridge's ``on_setup``), resending what the broker did
not confirm, in order, and handing deliveries to consumers with a way to ack
or reject them on the channel they came from.
"""
import itertools
import os
import struct
from typing import Awaitable, Callable, NamedTuple, Optional

from twisted.application import service
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, error, protocol
from twisted.logger import Logger
from txamqp import spec as txamqp_spec
from txamqp.client import ChannelClosed, Closed, TwistedDelegate
from txamqp.protocol import AMQClient

from wampchat.amqp.frames import CompleteFrames, basic_publish_frames, basic_settle_frame
from wampchat.amqp.outbox import Outbox, OutgoingMessage
from wampchat.amqp.receiving import DirectReceive
from wampchat.amqp.url import AmqpUrl

SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec", "amqp0-9-1.stripped.extended.xml")

FLUSH_BATCH = 500          # messages written per reactor turn, so a big outbox does not stall the router
PREFETCH = 200             # unacked deliveries the broker may push to us
HANDSHAKE_TIMEOUT = 30.0   # seconds from TCP connect to a ready channel
DROP_LOG_INTERVAL = 10.0   # seconds between log lines about a full outbox (every drop is counted)


CLIENT_PROPERTIES = {
    "product": "wampchat",
    "capabilities": {"authentication_failure_close": True, "consumer_cancel_notify": True,
                     "publisher_confirms": True, "basic.nack": True, "connection.blocked": False},
}


class Delivery:
    """A message the broker delivered to one of our consumers."""

    __slots__ = ("routing_key", "exchange", "redelivered", "properties", "body", "_link", "_channel", "_tag")

    def __init__(self, link, channel, msg):
        self._link = link
        self._channel = channel
        self._tag = msg.delivery_tag
        self.routing_key = msg.routing_key
        self.exchange = msg.exchange
        self.redelivered = msg.redelivered
        content = msg.content
        props = content.properties if content is not None else {}
        self.properties = {name.replace("-", "_"): value for name, value in props.items()}
        body = content.body if content is not None else b""
        self.body = body.encode("utf-8") if isinstance(body, str) else body

    @property
    def headers(self):
        return self.properties.get("headers") or {}

    def ack(self):
        """Tell the broker we are done with it (a no-op if its channel is gone: it will come again)."""
        self._link._settle(self._channel, self._tag, reject=False)

    def reject(self):
        """Refuse it for good: the broker dead-letters it when the queue has a DLX, else drops it."""
        self._link._settle(self._channel, self._tag, reject=True)


class _Delegate(TwistedDelegate):
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


class _Client(DirectReceive, CompleteFrames, AMQClient):
    """txamqp's client: confirms and deliveries read directly, body frames kept as bytes, channel errors
    reported to the link."""

    link = None
    proxy = None
    handshake = None
    ready = False

    def channel_failed(self, channel, reason):
        if getattr(channel, "scratch", False):
            return  # a refusal on a scratch channel is an answer (see AmqpLink._on_scratch), not a failure
        self.link._channel_failed(self, channel, reason)

    def connectionLost(self, reason):
        if not self.ready:
            _mute(self)  # ClientService learns of it through the failed prepareConnection
        super().connectionLost(reason)
        self.link._lost(self, reason)


class QueueFound(NamedTuple):
    """What declaring a queue found on the broker."""

    existed: bool   # it was there already, with its bindings and the messages kept for us
    messages: int   # messages waiting in it


class _Factory(protocol.Factory):
    noisy = False  # no "Starting factory" / "Stopping factory" per connection attempt

    def __init__(self, link, spec, vhost, heartbeat, clock):
        self.link = link
        self.spec = spec
        self.vhost = vhost
        self.heartbeat = heartbeat
        self.clock = clock

    def buildProtocol(self, addr):
        client = _Client(_Delegate(self.link), vhost=self.vhost, spec=self.spec, heartbeat=self.heartbeat,
                         clock=self.clock)
        client.link = self.link
        return client


def _mute(client):
    """Stop ClientService's proxy from reporting the loss of a connection that never became ready.

    ClientService (Twisted 26.10) has no transition for a disconnect while a
    prepareConnection is running or after it failed, and raises from
    connectionLost; the failed prepare already told it the attempt failed.
    """
    proxy = client.proxy
    if proxy is not None and hasattr(proxy, "_lostNotification"):
        proxy._lostNotification = lambda reason: None


def _reason_text(reason, depth=0, host=None):
    """A broker's close (a txamqp Message), a Failure or any exception, as a short readable string.

    With ``host`` (the name the link connects to), a failed TLS handshake
    says which check failed and what to do about it, since OpenSSL's and
    service-identity's own texts name neither.
    """
    value = getattr(reason, "value", reason)
    if isinstance(value, Closed) and value.args and depth < 3:
        return _reason_text(value.args[0], depth + 1, host)
    tls = _tls_problem(value, host)
    if tls is not None:
        return tls
    if hasattr(value, "method") and hasattr(value, "fields"):
        try:
            return f"{value.reply_code} {value.reply_text}"  # channel.close / connection.close
        except (AttributeError, KeyError):
            return str(value)
    return str(value) or type(value).__name__


def _tls_problem(value, host):
    """A sentence for a TLS failure (wrong name, untrusted CA, handshake), or None for anything else."""
    try:
        from OpenSSL import SSL
        from service_identity import VerificationError
    except ImportError:  # pragma: no cover - both are dependencies; amqp:// works without them
        return None
    if isinstance(value, VerificationError):
        mismatched = ", ".join(str(getattr(e, "mismatched_id", e)) for e in value.errors)
        return (f"TLS: the broker's certificate is not valid for {host!r}, the host name in the URL "
                f"(service-identity: {mismatched}); connect by a name the certificate carries")
    if isinstance(value, SSL.Error):
        details = "; ".join(str(part[-1]) for part in (value.args[0] if value.args else []) if part) or str(value)
        if "certificate verify failed" in details:
            return (f"TLS: the certificate of the broker at {host!r} is not signed by a trusted CA ({details}); "
                    "for a private CA add ?cafile=ca.pem to the amqps:// URL")
        return f"TLS handshake with the broker at {host!r} failed: {details}"
    return None


# Short words for the usual reasons a broker cannot be reached, for the one line each retry logs.
UNREACHABLE_TEXT = (
    (error.ConnectionRefusedError, "connection refused"),
    (error.TCPTimedOutError, "connection timed out"),
    (error.TimeoutError, "connection timed out"),
    (error.DNSLookupError, "host name not found"),
    (error.NoRouteError, "no route to host"),
)


def _unreachable_text(failure, host):
    for kind, text in UNREACHABLE_TEXT:
        if failure.check(kind):
            return text
    return _reason_text(failure, host=host)


class _QuietClientService(ClientService):
    """ClientService without its own "Scheduling retry ... to connect <endpoint object>" line: the link
    logs one line per retry itself, with the reason and the delay (see AmqpLink._retry_delay)."""

    _log = Logger(observer=lambda event: None)


class _AttemptsEndpoint:
    """Wraps the broker endpoint so the link sees each attempt start and each failure to connect."""

    def __init__(self, endpoint, link):
        self._endpoint = endpoint
        self._link = link

    def connect(self, factory):
        self._link._attempting()
        return self._endpoint.connect(factory).addErrback(self._link._unreachable)


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
        self._on_drop = on_drop  # told of every message the full outbox dropped (after counting it)
        self.url = url if isinstance(url, AmqpUrl) else AmqpUrl(url)
        self._on_setup = on_setup
        self._spec = txamqp_spec.load(spec_path)
        self.state = "down"
        self.outbox = Outbox(outbox_limit, self._dropped)
        self._client = None
        self._channel = None
        self._next_tag = 1
        self._consumers = {}
        self._flush_call = None
        self._waiters = []
        self._service = None
        self._last_drop_log = None
        self._drops_unlogged = 0
        self._backoff = backoffPolicy(0.5, retry_max)
        self._retry_note = None   # (log level, text, fields): why the next retry is needed
        m = metrics
        self.m_sent = m.counter("wampchat_amqp_published_total", "messages written to the broker (resends included)")
        self.m_confirmed = m.counter("wampchat_amqp_confirmed_total", "messages the broker confirmed")
        self.m_unsendable = m.counter("wampchat_amqp_unframeable_total",
                                      "messages dropped because they could not be framed (a field too long)")
        self.m_nacked = m.counter("wampchat_amqp_nacked_total", "messages the broker refused (sent again)")
        self.m_dropped = m.counter("wampchat_amqp_outbox_dropped_total",
                                   "messages dropped because the outbox was full (oldest first)")
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
        factory = _Factory(self, self._spec, self.url.vhost, self.url.heartbeat, self.reactor)
        endpoint = _AttemptsEndpoint(self.url.endpoint(self.reactor), self)
        self._service = _QuietClientService(endpoint, factory, retryPolicy=self._retry_delay, clock=self.reactor,
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
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
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

    def _retry_delay(self, attempt):
        """ClientService's retry policy (backoff up to --amqp-retry-max) that also logs the retry: one line
        per failed attempt, saying why (noted by the failure's handler) and when the next one is."""
        delay = self._backoff(attempt)
        level, text, fields = self._retry_note or ("warn", "AMQP broker {where}: no connection", {})
        self._retry_note = None
        if self.running:
            getattr(self.log, level)(text + "; retrying in {retry_in:.1f} s", where=self.where, retry_in=delay,
                                     attempt=attempt, **fields)
        return delay

    def _note_retry(self, level, text, **fields):
        self._retry_note = (level, text, fields)

    def _attempting(self):
        self.state = "connecting"

    def _unreachable(self, failure):
        if self.running:
            self.state = "down"
            self.m_failures.inc()
            self._note_retry("warn", "AMQP broker {where} unreachable ({why})",
                             why=_unreachable_text(failure, self.url.host))
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
            self._note_retry("error", "AMQP connection to {where} failed during set-up: {why}",
                             why=_reason_text(failure, host=self.url.host))
            self._abandon(client)
            return failure

        d.addBoth(done)
        d.addErrback(failed)
        return d

    def _abandon(self, client):
        """Close a connection that will not be used, without confusing ClientService."""
        _mute(client)
        if self._client is client:
            self._client = self._channel = None
        if client.transport is not None:
            client.transport.loseConnection()

    async def _handshake(self, client):
        # txamqp fails each of these when the connection drops; the timeout covers the rest.
        await client.start("\0" + self.url.username + "\0" + self.url.password, "PLAIN")
        channel = await client.channel(1)
        await channel.channel_open()
        await channel.confirm_select()
        await channel.basic_qos(prefetch_count=PREFETCH)
        self._client, self._channel, self._next_tag = client, channel, 1
        self._consumers = {}
        await defer.maybeDeferred(self._on_setup, self, channel)
        client.ready = True
        self.state = "connected"
        self.m_connects.inc()
        self.log.info("AMQP link up: {where}; {n} publications waiting", where=self.where, n=len(self.outbox))
        self._flush()
        self._wake_waiters()

    async def declare_queue(self, name: str, arguments: dict, fresh: bool = False) -> QueueFound:
        """Declare the durable queue ``name`` (from ``on_setup``) and say whether it was there already.

        A durable queue keeps its bindings and persistent messages across a
        broker restart, so what other nodes publish while this one is still
        reconnecting waits for it; ``existed`` False means that did not hold
        (the queue expired, was deleted, or ``fresh`` asked to start over) and
        whatever was routed to it meanwhile is gone. A queue of that name
        declared otherwise (e.g. not durable, by an older version) is deleted
        and made again. Each step runs on a scratch channel, since the
        broker's answer to "no such queue" or "declared otherwise" is to
        close the channel it was asked on.
        """
        client = self._client
        if fresh:
            await self._on_scratch(client, lambda ch: ch.queue_delete(queue=name))
            existed = False
        else:
            existed = await self._on_scratch(client, lambda ch: ch.queue_declare(queue=name, passive=True)) is not None

        def declare(ch):
            return ch.queue_declare(queue=name, durable=True, arguments=arguments)

        reply = await self._on_scratch(client, declare)
        if reply is None:
            self.log.warn("AMQP queue {queue} was declared with other settings; deleting and declaring it again",
                          queue=name)
            await self._on_scratch(client, lambda ch: ch.queue_delete(queue=name))
            reply, existed = await self._on_scratch(client, declare, refusal_ok=False), False
        return QueueFound(existed, reply.message_count)

    async def _on_scratch(self, client, use: Callable[[object], Awaitable], refusal_ok: bool = True) -> Optional[object]:
        """``use(channel)`` on a channel of its own; None when the broker refused it (closing that channel
        only), or the refusal raised when ``refusal_ok`` is False."""
        ids = client.__dict__.setdefault("scratch_ids", itertools.count(2))  # channel 1 is the link's
        channel = await client.channel(next(ids))
        channel.scratch = True
        try:
            await channel.channel_open()
            reply = await use(channel)
            await channel.channel_close(reply_code=200, reply_text="done")
            return reply
        except ChannelClosed:
            if not refusal_ok:
                raise
            return None
        finally:
            channel.close(None)
            client.channels.pop(channel.id, None)

    def consume(self, channel, queue, handler):
        """Start consuming ``queue`` on ``channel``; ``handler(delivery)`` gets each message."""
        d = channel.basic_consume(queue=queue, no_ack=False)

        def started(reply):
            self._consumers[reply.consumer_tag] = handler
            return reply.consumer_tag

        return d.addCallback(started)

    def _lost(self, client, reason):
        if not client.ready and client.handshake is not None and not client.handshake.called:
            client.handshake.cancel()  # txamqp usually failed it already; this covers the rest
        if client is not self._client:
            return
        self._client = self._channel = None
        self._consumers = {}
        requeued = self.outbox.requeue_unconfirmed()
        self.state = "down"
        if self.running:
            self._note_retry("warn", "AMQP link to {where} lost ({why}); {n} publications wait, {u} of them to "
                             "be resent", why=_reason_text(reason, host=self.url.host), n=len(self.outbox), u=requeued)

    def _channel_failed(self, client, channel, reason):
        """The broker closed our channel (e.g. a missing exchange): start over on a new connection."""
        self.m_channel_errors.inc()
        self.log.error("the broker closed the AMQP channel: {why}; reconnecting", why=_reason_text(reason))
        if client.transport is not None:
            client.transport.loseConnection()

    def _consumer_cancelled(self, client, consumer_tag):
        self.log.warn("the broker cancelled consumer {tag} (queue deleted?); reconnecting to set up again",
                      tag=consumer_tag)
        if client is self._client and client.transport is not None:
            client.transport.loseConnection()

    # -- publishing ----------------------------------------------------------------
    def publish(self, exchange, routing_key, body, properties):
        """Queue a message for the broker; it goes out in order, confirmed, across reconnects."""
        self.outbox.add(OutgoingMessage(exchange, routing_key, body, properties))
        if self.state == "connected" and self._flush_call is None:
            self._flush()

    def _flush(self):
        """Write up to FLUSH_BATCH waiting messages in one write; the rest on the next reactor turn."""
        self._flush_call = None
        channel, client = self._channel, self._client
        if self.state != "connected" or channel.closed or client.transport is None:
            return  # the connection is going: what is unconfirmed is resent on the next one
        frames, sent = [], 0
        while self.outbox.pending and sent < FLUSH_BATCH:
            msg = self.outbox.take()
            try:
                frames.append(basic_publish_frames(channel.id, msg.exchange, msg.routing_key, msg.body,
                                                   msg.properties, client.MAX_LENGTH))
            except (ValueError, TypeError, struct.error) as e:  # a caller's bug; the bridge checks what it sends
                self.m_unsendable.inc()
                self.log.error("AMQP message to {exchange}/{key} cannot be framed, dropped: {e}",
                               exchange=msg.exchange, key=msg.routing_key, e=e)
                continue
            tag, self._next_tag = self._next_tag, self._next_tag + 1
            self.outbox.sent(tag, msg)
            sent += 1
        client.transport.write(b"".join(frames))
        client.reschedule_send_heartbeat()
        self.m_sent.inc(sent)
        if self.outbox.pending:
            self._flush_call = self.reactor.callLater(0, self._flush)

    def _confirmed(self, client, tag, multiple):
        if client is self._client:
            self.m_confirmed.inc(self.outbox.confirm(tag, multiple))

    def _nacked(self, client, tag, multiple):
        if client is not self._client:
            return
        n = self.outbox.nack(tag, multiple)
        self.m_nacked.inc(n)
        self.log.warn("the broker nacked {n} publications (up to tag {tag}); sending them again", n=n, tag=tag)
        if self._flush_call is None:
            self._flush()

    def _dropped(self, messages):
        """Count every drop; log the first and then at most one summary per DROP_LOG_INTERVAL."""
        self.m_dropped.inc(len(messages))
        if self._on_drop is not None:
            self._on_drop(messages)
        self._drops_unlogged += len(messages)
        now = self.reactor.seconds()
        if self._last_drop_log is None or now - self._last_drop_log >= DROP_LOG_INTERVAL:
            self.log.error("AMQP outbox full ({limit}): dropped the {n} oldest publications waiting for the "
                           "broker (latest {last}); {total} dropped in all",
                           limit=self.outbox.limit, n=self._drops_unlogged, last=messages[-1],
                           total=self.m_dropped.value)
            self._last_drop_log, self._drops_unlogged = now, 0

    # -- consuming -----------------------------------------------------------------
    def _delivered(self, client, channel, msg):
        handler = self._consumers.get(msg.consumer_tag)
        delivery = Delivery(self, channel, msg)
        if client is not self._client or handler is None:
            self.log.warn("delivery for unknown consumer {tag}; rejecting", tag=msg.consumer_tag)
            delivery.reject()
            return
        try:
            handler(delivery)
        except Exception:
            self.log.failure("AMQP consumer failed on a message from {key}; rejecting it", key=msg.routing_key)
            delivery.reject()

    def _settle(self, channel, tag, reject):
        """basic.ack or basic.reject (not requeued), written directly: txamqp's method path costs more
        than the message it settles."""
        client = self._client
        if channel is None or channel is not self._channel or channel.closed or client.transport is None:
            return  # the broker redelivers it on the next connection
        client.transport.write(basic_settle_frame(channel.id, tag, reject=reject))
