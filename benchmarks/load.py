"""
Load-generating worker processes for any WAMP router URL.

Each worker is a separate process with its own Twisted reactor and Autobahn
client sessions, so that client CPU spreads over cores and never runs inside
the router being measured. The parent (``benchmarks.run``) drives workers
through one queue and two events (``go``, ``stop``) and never runs a reactor
itself: it reads the router's CPU counters right before ``go`` and right
after the last ``done``.

Messages a worker puts on the queue: ``("ready", id, info)`` once its
sessions have joined, ``("done", id, result)`` once its load is finished (or
its deadline passed), ``("error", id, text)`` if it cannot go on.
"""
import json
import time
from array import array
from urllib.parse import urlparse

REALM = "wampchat"
TOPIC = "app.bench.fanout"
PROCEDURE = "app.bench.echo"
POLL = 0.01  # seconds between looks at the go/stop events


def worker_main(role, spec, worker_id, queue, go, stop):
    """Entry point of one worker process: run ``role`` under a fresh epoll reactor."""
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor

    worker = ROLES[role](reactor, spec, worker_id, queue, go, stop)
    reactor.callWhenRunning(worker.start)
    # A hard stop in case the parent vanishes: no worker outlives its budget.
    reactor.callLater(spec["lifetime"], reactor.stop)
    reactor.run()


def connect(reactor, url, serializer, timeout):
    """Join one Autobahn session to ``url``; Deferred of the joined session."""
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp import types
    from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer
    from twisted.internet import defer, endpoints

    joined = defer.Deferred()

    class BenchSession(ApplicationSession):
        def onJoin(self, details):
            if not joined.called:
                joined.callback(self)

        def onLeave(self, details):
            if not joined.called:
                joined.errback(RuntimeError(f"join refused: {details.reason} {details.message}"))
            return super().onLeave(details)

    serializers = {"json": JsonSerializer, "msgpack": MsgPackSerializer}
    factory = WampWebSocketClientFactory(
        lambda: BenchSession(types.ComponentConfig(realm=REALM)),
        url=url, serializers=[serializers[serializer]()])
    # Skipping UTF-8 validation keeps client CPU down; the router is what we measure.
    factory.setProtocolOptions(utf8validateIncoming=False)
    parsed = urlparse(url)
    endpoint = endpoints.TCP4ClientEndpoint(reactor, parsed.hostname, parsed.port, timeout=timeout)

    def failed(failure):
        if not joined.called:
            joined.errback(failure)

    endpoint.connect(factory).addErrback(failed)
    joined.addTimeout(timeout, reactor)
    return joined


class Worker:
    """Common plumbing: staggered connects, waiting on go/stop, reporting."""

    def __init__(self, reactor, spec, worker_id, queue, go, stop):
        self.reactor = reactor
        self.spec = spec
        self.id = worker_id
        self.queue = queue
        self.go = go
        self.stop = stop
        self.sessions = []
        self.reported = False

    def start(self):
        d = self.reactor_sleep(self.spec.get("delay", 0))
        d.addCallback(lambda _: self.open_sessions(self.spec.get("sessions", 1)))
        d.addCallback(lambda _: self.prepare())
        d.addCallback(lambda _: self.queue.put(("ready", self.id, {"sessions": len(self.sessions)})))
        d.addCallback(lambda _: self.wait_for(self.go))
        d.addCallback(lambda _: self.run())
        d.addErrback(self.fail)
        self.wait_for(self.stop).addCallback(lambda _: self.shutdown())

    def reactor_sleep(self, seconds):
        from twisted.internet import task

        return task.deferLater(self.reactor, seconds, lambda: None)

    def open_sessions(self, count):
        """Connect ``count`` sessions in waves, so the router is not hit by a SYN storm."""
        from twisted.internet import defer

        wave = self.spec.get("wave", 25)
        join = connect_raw if self.spec.get("client") == "raw" else connect

        @defer.inlineCallbacks
        def waves():
            for first in range(0, count, wave):
                batch = [join(self.reactor, self.spec["url"], self.spec["serializer"], self.spec["connect_timeout"])
                         for _ in range(min(wave, count - first))]
                self.sessions.extend((yield defer.gatherResults(batch, consumeErrors=True)))
                yield self.reactor_sleep(self.spec.get("pause", 0.02))

        return waves()

    def wait_for(self, event):
        """A Deferred that fires once the multiprocessing ``event`` is set (polled)."""
        from twisted.internet import defer, task

        d = defer.Deferred()

        def poll():
            if event.is_set():
                loop.stop()
                d.callback(None)

        loop = task.LoopingCall(poll)
        loop.start(POLL)
        return d

    def prepare(self):
        """Subscribe/register before reporting ready; nothing by default."""

    def run(self):
        """The load itself, after ``go``; report ``done`` when finished."""

    def report(self, result):
        if not self.reported:
            self.reported = True
            self.queue.put(("done", self.id, result))

    def fail(self, failure):
        self.queue.put(("error", self.id, f"{type(failure.value).__name__}: {failure.value}"))

    def shutdown(self):
        for session in self.sessions:
            if isinstance(session, RawWampSession):
                session.close()
                continue
            transport = session._transport
            if transport is not None and transport.isOpen():
                transport.close()
        self.reactor.callLater(0.2, self.reactor.stop)


class Subscriber(Worker):
    """``sessions`` sessions subscribed to TOPIC, counting events (and latencies)."""

    def prepare(self):
        from twisted.internet import defer

        self.target = self.spec["sessions"] * self.spec["expected"]
        self.received = 0
        self.first = self.last = None
        self.latencies = array("d") if self.spec.get("latency") else None
        topic = self.spec.get("topic", TOPIC)
        return defer.gatherResults([s.subscribe(self.on_event, topic) for s in self.sessions], consumeErrors=True)

    def on_event(self, seq, sent_at):
        now = time.monotonic()
        self.received += 1
        if self.first is None:
            self.first = now
        self.last = now
        if self.latencies is not None:
            self.latencies.append(now - sent_at)
        if self.received == self.target:
            self.finish()

    def run(self):
        if self.target == 0:
            self.finish()
        self.reactor.callLater(self.spec["run_timeout"], self.finish)

    def finish(self):
        self.report({"received": self.received, "expected": self.target, "first": self.first, "last": self.last,
                     "latencies": self.latencies.tobytes() if self.latencies is not None else None})


class Publisher(Worker):
    """One session publishing ``count`` events: in acknowledged batches, or at a fixed rate.

    Every run ends with an acknowledged publish, so nothing is left unflushed.
    """

    def run(self):
        self.session = self.sessions[0]
        self.deadline = time.monotonic() + self.spec["run_timeout"]
        self.started = time.monotonic()
        d = self.burst() if self.spec["mode"] == "burst" else self.paced()
        d.addCallback(lambda sent: self.report({"published": sent, "started": self.started, "ended": time.monotonic()}))
        d.addErrback(self.fail)

    def publish(self, seq, acknowledge=False):
        from autobahn.wamp.types import PublishOptions

        if isinstance(self.session, RawWampSession):
            return self.session.publish(TOPIC, seq, time.monotonic(), acknowledge=acknowledge)
        if acknowledge:
            return self.session.publish(TOPIC, seq, time.monotonic(), options=PublishOptions(acknowledge=True))
        self.session.publish(TOPIC, seq, time.monotonic())
        return None

    def burst(self):
        """Publish as fast as the router acknowledges: batches of ``batch``, the last one acknowledged."""
        from twisted.internet import defer

        count, batch = self.spec["count"], self.spec["batch"]

        @defer.inlineCallbacks
        def loop():
            sent = 0
            while sent < count and time.monotonic() < self.deadline:
                last = min(sent + batch, count) - 1
                for seq in range(sent, last):
                    self.publish(seq)
                yield self.publish(last, acknowledge=True)
                sent = last + 1
            return sent

        return loop()

    def paced(self):
        """Publish ``count`` events at ``rate`` per second on a fine timer; the last one acknowledged."""
        from twisted.internet import defer, task

        count, rate = self.spec["count"], self.spec["rate"]
        done = defer.Deferred()
        state = {"sent": 0}

        def tick():
            due = min(count, int((time.monotonic() - self.started) * rate) + 1)
            while state["sent"] < due:
                seq = state["sent"]
                state["sent"] += 1
                if seq == count - 1 or time.monotonic() > self.deadline:
                    loop.stop()
                    self.publish(seq, acknowledge=True).chainDeferred(done)
                    return
                self.publish(seq)

        loop = task.LoopingCall(tick)
        loop.clock = self.reactor
        loop.start(0.001)
        return done.addCallback(lambda _: state["sent"])


class Callee(Worker):
    """One session registering PROCEDURE, an echo."""

    def prepare(self):
        return self.sessions[0].register(lambda value: value, PROCEDURE)


class Caller(Worker):
    """``sessions`` callers, each making ``calls`` sequential calls (one outstanding per caller)."""

    def run(self):
        from twisted.internet import defer

        self.deadline = time.monotonic() + self.spec["run_timeout"]
        started = time.monotonic()

        @defer.inlineCallbacks
        def caller(session):
            made = 0
            while made < self.spec["calls"] and time.monotonic() < self.deadline:
                yield session.call(PROCEDURE, made)
                made += 1
            return made

        d = defer.gatherResults([caller(s) for s in self.sessions], consumeErrors=True)
        d.addCallback(lambda made: self.report({"calls": sum(made), "started": started, "ended": time.monotonic()}))
        d.addErrback(self.fail)


class Idle(Worker):
    """``sessions`` joined sessions that do nothing (the memory measurement)."""

    def run(self):
        self.report({})


class ChatSubscriber(Subscriber):
    """``sessions`` guests subscribed to a room's ``message`` topic, counting the measured messages.

    The senders' warm-up messages (text starting with WARM_UP) arrive before
    ``go`` and are not counted.
    """

    def prepare(self):
        from twisted.internet import defer

        self.target = self.spec["sessions"] * self.spec["expected"]
        self.received = 0
        self.first = self.last = None
        self.latencies = None
        topic = f"chat.room.{self.spec['room']}.message"
        return defer.gatherResults([s.subscribe(self.on_message, topic) for s in self.sessions], consumeErrors=True)

    def run(self):
        """As Subscriber, and also give up once nothing arrived for ``idle_timeout`` seconds.

        The senders are not held back by delivery (a send returns once stored
        and published), so subscribers that fall behind could otherwise wait
        out the whole run timeout; the shortfall is then reported.
        """
        from twisted.internet import task

        super().run()
        went = time.monotonic()

        def check():
            if self.reported:
                loop.stop()
            elif time.monotonic() - (self.last or went) > self.spec.get("idle_timeout", 15.0):
                loop.stop()
                self.finish()

        loop = task.LoopingCall(check)
        loop.clock = self.reactor
        loop.start(1.0, now=False)

    def on_message(self, message):
        if message["text"].startswith(WARM_UP):
            return
        now = time.monotonic()
        self.received += 1
        if self.first is None:
            self.first = now
        self.last = now
        if self.received == self.target:
            self.finish()


class ChatSender(Worker):
    """``sessions`` guests, each sending ``sends`` chat messages one after the other (one call outstanding each).

    Each sender first sends one warm-up message, so that joining the room
    (its first send makes it a member) is not part of the measurement. The
    latency of a send is from the call to its result: the message is then
    committed and its event published.
    """

    def prepare(self):
        from twisted.internet import defer

        return defer.gatherResults([s.call("chat.message.send", self.spec["room"], f"{WARM_UP} {self.id}.{i}")
                                    for i, s in enumerate(self.sessions)], consumeErrors=True)

    def run(self):
        from twisted.internet import defer

        self.deadline = time.monotonic() + self.spec["run_timeout"]
        started = time.monotonic()
        latencies = array("d")

        @defer.inlineCallbacks
        def sender(index, session):
            sent = 0
            while sent < self.spec["sends"] and time.monotonic() < self.deadline:
                t0 = time.monotonic()
                yield session.call("chat.message.send", self.spec["room"], f"m {self.id}.{index}.{sent}")
                latencies.append(time.monotonic() - t0)
                sent += 1
            return sent

        d = defer.gatherResults([sender(i, s) for i, s in enumerate(self.sessions)], consumeErrors=True)
        d.addCallback(lambda sent: self.report({"sent": sum(sent), "started": started, "ended": time.monotonic(),
                                                "latencies": latencies.tobytes()}))
        d.addErrback(self.fail)


WARM_UP = "warm-up"

ROLES = {"subscribe": Subscriber, "publish": Publisher, "callee": Callee, "call": Caller, "idle": Idle,
         "chat_subscribe": ChatSubscriber, "chat_send": ChatSender}


# -- connection scale: many idle sessions, each one raw socket ------------------------------

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64; the router's answer is not checked
RAW_HELLO = (b'[1,"' + REALM.encode() + b'",{"roles":{"subscriber":{},"publisher":{},"caller":{},'
                          b'"callee":{}},"authmethods":["anonymous"]}]')
RAW_MASK = b"\x00\x00\x00\x00"  # a zero mask: the frame is masked as RFC 6455 requires, and costs no XOR


def masked_frame(opcode, payload):
    """A client frame (FIN set, masked with RAW_MASK) holding ``payload`` (under 64 KiB)."""
    size = len(payload)
    head = bytes((0x80 | opcode, 0x80 | size)) if size < 126 else bytes((0x80 | opcode, 0x80 | 126)) + \
        size.to_bytes(2, "big")
    return head + RAW_MASK + payload


class RawWampSession:
    """One WAMP-over-WebSocket (JSON) session by hand: upgrade, HELLO, WELCOME, then calls and events.

    Autobahn's client costs tens of KB and a good deal of CPU per session
    and per message: 20,000 idle ones would need more memory and cores than
    the router under test, and on two cores Autobahn clients counting events
    take more CPU than the router sending them. This protocol keeps a small
    buffer, answers the router's pings (wampchat pings idle peers every 30
    s), reports the join once, and afterwards makes calls (``call``) and
    takes events (``subscribe``) with as little work as it can: the bench
    measures the router, not its client.
    """

    def __init__(self, host, port, on_joined, on_failed, path="/ws"):
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n").encode("ascii")
        self.on_joined = on_joined
        self.on_failed = on_failed
        self.buffer = b""
        self.upgraded = False
        self.joined = False
        self.transport = None
        self.requests = 0
        self.pending = None   # request id -> (Deferred, event handler or None), made on the first request
        self.handlers = None  # subscription id -> event handler
        self.on_lost = None   # called once a joined session's connection is gone (the router went away)

    def makeConnection(self, transport):
        """Twisted's IProtocol entry point (a plain object, so this module imports no reactor)."""
        self.transport = transport
        transport.write(self.request)

    # -- requests (after the join) ---------------------------------------------------------------
    def call(self, procedure, *args):
        """Deferred of the call's first result argument; fails with the error URI."""
        return self._request([48, None, {}, procedure, list(args)])

    def subscribe(self, handler, topic):
        """Deferred of the subscription id; ``handler(*args)`` then runs for every EVENT of it."""
        return self._request([32, None, {}, topic], handler)

    def publish(self, topic, *args, acknowledge=False):
        """Publish ``args`` to ``topic``; acknowledged, a Deferred that fires on PUBLISHED (None otherwise)."""
        if acknowledge:
            return self._request([16, None, {"acknowledge": True}, topic, list(args)])
        self.requests += 1
        self._send([16, self.requests, {}, topic, list(args)])
        return None

    def _request(self, message, handler=None):
        from twisted.internet import defer

        self.requests += 1
        message[1] = self.requests
        d = defer.Deferred()
        if self.pending is None:
            self.pending, self.handlers = {}, {}
        self.pending[self.requests] = (d, handler)
        self._send(message)
        return d

    def _send(self, message):
        self.transport.write(masked_frame(1, json.dumps(message, separators=(",", ":")).encode()))

    def close(self):
        if self.transport is not None and self.transport.connected:
            self.transport.write(masked_frame(8, b"\x03\xe8"))
            self.transport.loseConnection()

    # -- frames ----------------------------------------------------------------------------------
    def dataReceived(self, data):
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            status = buffer[:buffer.find(b"\r\n")]
            if b" 101 " not in status + b" ":
                self.fail(f"upgrade refused: {status.decode('latin-1')}")
                return
            self.upgraded = True
            buffer = buffer[end + 4:]
            self.transport.write(masked_frame(1, RAW_HELLO))
        at, total = 0, len(buffer)
        while total - at >= 2:  # one frame per pass; each pass consumes bytes, so it ends
            opcode, size, start = buffer[at] & 0x0F, buffer[at + 1] & 0x7F, at + 2
            if size == 126:
                size, start = int.from_bytes(buffer[at + 2:at + 4], "big"), at + 4
            elif size == 127:
                size, start = int.from_bytes(buffer[at + 2:at + 10], "big"), at + 10
            if total < start + size:
                break
            payload, at = buffer[start:start + size], start + size
            if opcode == 9:
                self.transport.write(masked_frame(10, payload))
            elif opcode == 8:
                self.fail(f"closed by the router: {payload[2:].decode('utf-8', 'replace')}")
                return
            elif opcode in (1, 2) and not self.joined:
                if payload.startswith(b"[2,"):
                    self.joined = True
                    self.on_joined(self)
                else:
                    self.fail(f"not welcomed: {payload[:200].decode('utf-8', 'replace')}")
                    return
            elif opcode in (1, 2) and self.pending is not None:
                self.on_wamp(json.loads(payload))
        self.buffer = buffer[at:] if at else buffer

    def on_wamp(self, message):
        kind = message[0]
        if kind == 36:  # EVENT
            handler = self.handlers.get(message[1])
            if handler is not None:
                handler(*(message[4] if len(message) > 4 else ()))
        elif kind == 50:  # RESULT
            d, _ = self.pending.pop(message[1])
            d.callback(message[3][0] if len(message) > 3 and message[3] else None)
        elif kind == 17:  # PUBLISHED
            d, _ = self.pending.pop(message[1])
            d.callback(message[2])
        elif kind == 33:  # SUBSCRIBED
            d, handler = self.pending.pop(message[1])
            self.handlers[message[2]] = handler
            d.callback(message[2])
        elif kind == 8:  # ERROR
            d, _ = self.pending.pop(message[2])
            d.errback(RuntimeError(f"{message[4]}: {message[5] if len(message) > 5 else ''}"))
        elif kind in (3, 6):  # ABORT, GOODBYE
            self.fail(f"session ended by the router: {message[2]}")

    def fail(self, why):
        self.buffer = b""
        if not self.joined:
            self.on_failed(why)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.joined:
            self.on_failed(f"connection lost before WELCOME: {reason.getErrorMessage()}")
        elif self.on_lost is not None:
            self.on_lost(self)
        self.joined = False  # a later loss is not a failed join
        pending, self.pending = self.pending or {}, None
        for d, _ in pending.values():
            d.errback(RuntimeError(f"connection lost: {reason.getErrorMessage()}"))

    def connectionMade(self):
        pass


def connect_raw(reactor, url, serializer, timeout):
    """Join one :class:`RawWampSession` to ``url`` (JSON only); Deferred of the joined session."""
    from twisted.internet import defer, endpoints

    if serializer != "json":
        raise ValueError("the raw client speaks JSON only")
    parsed = urlparse(url)
    joined = defer.Deferred()

    def on_joined(session):
        if not joined.called:
            joined.callback(session)

    def on_failed(why):
        if not joined.called:
            joined.errback(RuntimeError(why))

    session = RawWampSession(parsed.hostname, parsed.port, on_joined, on_failed, parsed.path or "/")
    open_raw(endpoints.TCP4ClientEndpoint(reactor, parsed.hostname, parsed.port, timeout=timeout), session)
    joined.addTimeout(timeout, reactor)
    return joined


def open_raw(endpoint, session):
    """Connect ``session`` (a RawWampSession) through ``endpoint``; a failed connect goes to its ``on_failed``."""
    from twisted.internet import protocol

    factory = protocol.Factory()  # one per connection: connects complete out of order
    factory.buildProtocol = lambda addr: session
    endpoint.connect(factory).addErrback(lambda f: session.on_failed(f.getErrorMessage()))


class ScaleJoiner(Worker):
    """``sessions`` idle raw sessions, at most ``inflight`` joining at once, from the ``sources`` addresses.

    Connections bind to each source address in turn (127.0.0.2, 127.0.0.3,
    ...), so the count is not capped by the ephemeral ports of one source
    address. Connecting starts on ``go`` and ends when every session joined,
    one failed for good, or ``run_timeout`` passed; the sessions then stay
    open until ``stop``.
    """

    def start(self):
        self.open_sessions = lambda count: None  # the sessions are opened in run(), on go
        super().start()

    def run(self):
        from twisted.internet import endpoints

        spec = self.spec
        parsed = urlparse(spec["url"])
        self.host, self.port = parsed.hostname, parsed.port
        self.endpoints = [endpoints.TCP4ClientEndpoint(self.reactor, self.host, self.port,
                                                       timeout=spec["connect_timeout"], bindAddress=(src, 0))
                          for src in spec["sources"]]
        self.wanted = spec["sessions"]
        self.started_count = self.joined = 0
        self.failures = []
        self.started = time.monotonic()
        self.last = None
        self.deadline = self.started + spec["run_timeout"]
        self.timer = self.reactor.callLater(spec["run_timeout"], self.finish)
        for _ in range(min(spec["inflight"], self.wanted)):
            self.connect_one()

    def connect_one(self):
        if self.reported or self.started_count >= self.wanted or time.monotonic() > self.deadline:
            return
        endpoint = self.endpoints[self.started_count % len(self.endpoints)]
        self.started_count += 1
        open_raw(endpoint, RawWampSession(self.host, self.port, self.on_joined, self.on_failed))

    def on_joined(self, session):
        self.joined += 1
        self.last = time.monotonic()
        self.sessions.append(session)
        self.next_or_finish()

    def on_failed(self, why):
        if self.reported:
            return
        self.failures.append(why)
        self.next_or_finish()

    def next_or_finish(self):
        if self.joined + len(self.failures) >= self.wanted:
            self.finish()
        else:
            self.connect_one()

    def finish(self):
        if self.timer.active():
            self.timer.cancel()
        self.report({"joined": self.joined, "wanted": self.wanted, "started": self.started, "last": self.last,
                     "failures": len(self.failures), "first_failures": self.failures[:3]})
        again = self.spec.get("again")
        if again is not None and self.joined:
            self.wait_for(again).addCallback(lambda _: self.rejoin(self.joined))

    # -- a restart: the router went away and came back on the same port; everyone reconnects at once --
    def rejoin(self, count):
        """Reconnect ``count`` sessions at once (no cap in flight, as after a restart every client is
        waiting); a refused or lost attempt is retried with the web page's backoff until the deadline."""
        import random

        self.sessions = []
        self.rejoined, self.retries, self.rejoin_failures = 0, 0, []
        self.rejoin_count, self.rejoin_started, self.rejoin_last = count, time.monotonic(), None
        timeout = self.spec.get("rejoin_timeout", self.spec["run_timeout"])
        self.rejoin_deadline = self.rejoin_started + timeout
        self.rejoin_reported = False
        self.random = random.Random(self.id)
        self.rejoin_timer = self.reactor.callLater(timeout, self.rejoin_finish)
        for _ in range(count):
            self.reconnect_one()

    def reconnect_one(self, attempt=1):
        if self.rejoin_reported or time.monotonic() > self.rejoin_deadline:
            return
        endpoint = self.endpoints[self.started_count % len(self.endpoints)]
        self.started_count += 1
        open_raw(endpoint, RawWampSession(self.host, self.port, self.on_rejoined,
                                          lambda why: self.on_rejoin_failed(why, attempt)))

    def on_rejoined(self, session):
        self.rejoined += 1
        self.rejoin_last = time.monotonic()
        self.sessions.append(session)
        if self.rejoined >= self.rejoin_count:
            self.rejoin_finish()

    def on_rejoin_failed(self, why, attempt):
        """Try again after the web page's delay (web/js/connection.js): 0.5 s doubling to 8 s, +-20%."""
        if self.rejoin_reported:
            return
        self.retries += 1
        if len(self.rejoin_failures) < 3:
            self.rejoin_failures.append(why)
        delay = min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.8 + 0.4 * self.random.random())
        self.reactor.callLater(delay, self.reconnect_one, attempt + 1)  # bounded by the deadline

    def rejoin_finish(self):
        if self.rejoin_reported:
            return
        self.rejoin_reported = True
        if self.rejoin_timer.active():
            self.rejoin_timer.cancel()
        self.queue.put(("rejoined", self.id, {
            "rejoined": self.rejoined, "wanted": self.rejoin_count, "started": self.rejoin_started,
            "last": self.rejoin_last, "retries": self.retries, "first_failures": self.rejoin_failures}))

    def shutdown(self):
        for session in self.sessions:
            if session.transport is not None:
                session.transport.abortConnection()
        self.reactor.callLater(0.5, self.reactor.stop)


ROLES["scale"] = ScaleJoiner
