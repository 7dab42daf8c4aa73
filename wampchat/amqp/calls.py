"""
Calls between nodes: one router across nodes (API §10), the call half.

A call whose callee is on another node travels as WAMP's own messages do
between a router and a callee: INVOCATION there, YIELD (progressive too),
ERROR and INTERRUPT back and forth, each an AMQP message on the node-only
direct exchange ``<exchange>.cluster.calls`` to the other node's exclusive
queue (it lives exactly as long as that node's connection). Bodies are CBOR,
so binary payloads of MessagePack and CBOR clients cross unchanged.

On the caller's node another node's callees are one :class:`RemoteCallee`,
which the dealer keeps among a registration's callees and picks by the
registration's policy like any callee; the caller's node owns the timeout
and the cancel. On the callee's node each call is a :class:`RemoteCaller`
handed to the dealer with ``local_only`` (never forwarded again). When a node
leaves the cluster, :meth:`ClusterCalls.node_gone` ends the calls in flight
to it with ``wamp.error.canceled``.
"""
import cbor2
from autobahn.wamp import message, role
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.ids import SequentialIds
from wampchat.router.session_info import SessionInfo

ASK_TIMEOUT = 2.0   # seconds another node has to answer a question (the session meta API)
CALLEE_ROLES = {"callee": role.RoleCalleeFeatures(call_canceling=True, progressive_call_results=True)}


class RemoteCallee:
    """Another node's callees, as the dealer of this node sees them: one callee that takes INVOCATION."""

    remote = True

    def __init__(self, calls: "ClusterCalls", node: str) -> None:
        self._calls = calls
        self.node = node
        self.info = SessionInfo(0, calls.realm.name, f"node:{node}", "node", "cluster", "cluster")
        self.roles = CALLEE_ROLES
        self.request_ids = SequentialIds()
        self.invocations: dict = {}
        self.registrations: dict = {}
        self.calls: dict = {}

    def invoke(self, request, call, reg, caller, disclose) -> None:
        """Send the INVOCATION of ``call`` (a CALL message) as ``request`` to the callee's node."""
        self._calls.send(self.node, {
            "t": "inv", "req": request, "proc": call.procedure, "args": call.args, "kwargs": call.kwargs,
            "progress": bool(call.receive_progress),
            "caller": [caller.id, caller.authid, caller.authrole], "disclose": bool(disclose)})

    def send(self, msg) -> None:
        """What the dealer sends a callee besides INVOCATION: INTERRUPT (cancel, timeout)."""
        if isinstance(msg, message.Interrupt):
            self._calls.send(self.node, {"t": "int", "req": msg.request, "mode": msg.mode or "kill"})


class RemoteCaller:
    """A call another node routed here, as the dealer of this node sees its caller."""

    remote = True

    def __init__(self, calls: "ClusterCalls", node: str, request: int, caller: list) -> None:
        self._calls = calls
        self.node = node
        self.request = request
        session_id, authid, authrole = caller
        self.info = SessionInfo(session_id, calls.realm.name, authid, authrole, "cluster", "cluster")
        self.roles = None
        self.calls: dict = {}
        self.registrations: dict = {}
        self.invocations: dict = {}

    def send(self, msg) -> None:
        """RESULT (progressive or final) for the caller's node."""
        if isinstance(msg, message.Result):
            self._calls.send(self.node, {"t": "yld", "req": msg.request, "args": msg.args, "kwargs": msg.kwargs,
                                         "progress": bool(msg.progress)})
            if not msg.progress:
                self._calls.finished(self)

    def send_error(self, request_type, request, error, args=None, kwargs=None) -> None:
        self._calls.send(self.node, {"t": "err", "req": request, "error": error, "args": args, "kwargs": kwargs})
        self._calls.finished(self)


class ClusterCalls:
    """This node's end of the calls between nodes: sending, receiving, and the proxies on either side."""

    log = Logger()

    def __init__(self, realm, settings, publish, clock) -> None:
        self.realm = realm
        self._clock = clock
        self._asks: dict = {}      # request -> (Deferred, timeout call)
        self._asked = 0
        self.answerers: dict = {}  # kind -> fn(payload): what other nodes may ask this one
        self._dealer = realm.dealer
        self._settings = settings
        self._publish = publish
        self.node = settings.node_id
        self._callees: dict = {}   # node id -> RemoteCallee
        self._callers: dict = {}   # (node id, request) -> RemoteCaller

    @property
    def exchange(self) -> str:
        return f"{self._settings.exchange}.cluster.calls"

    @property
    def queue(self) -> str:
        return f"{self._settings.exchange}.cluster.calls.{self.node}"

    async def setup(self, link, channel) -> None:
        """On every connection: the exchange, this node's exclusive queue (gone with the connection), consuming."""
        await channel.exchange_declare(exchange=self.exchange, type="direct", durable=True)
        await channel.queue_declare(queue=self.queue, durable=False, exclusive=True, auto_delete=True)
        await channel.queue_bind(queue=self.queue, exchange=self.exchange, routing_key=self.node)
        await link.consume(channel, self.queue, self.on_message)

    def callee(self, node: str) -> RemoteCallee:
        """The proxy for ``node``'s callees (made on first use)."""
        proxy = self._callees.get(node)
        if proxy is None:
            proxy = self._callees[node] = RemoteCallee(self, node)
        return proxy

    def node_gone(self, node: str) -> None:
        """``node`` left the cluster: its registrations go, and calls in flight to it end with canceled."""
        proxy = self._callees.pop(node, None)
        if proxy is not None:
            self._dealer.detach(proxy)
        for key in [key for key in self._callers if key[0] == node]:
            caller = self._callers.pop(key)
            self._dealer.detach(caller)

    def link_lost(self) -> None:
        """The connection to the broker is gone: a call in flight to another node may never be answered, so
        each ends now with canceled (the caller may call again once the link is back)."""
        for proxy in list(self._callees.values()):
            for request in list(proxy.invocations):
                self._dealer.on_error(proxy, message.Error(message.Invocation.MESSAGE_TYPE, request,
                                                           "wamp.error.canceled",
                                                           args=["the link between the nodes was lost"]))

    def send(self, node: str, body: dict) -> None:
        s = self._settings
        self._publish(self.exchange, node, cbor2.dumps(dict(body, node=self.node)), {
            "content_type": "application/cbor", "user_id": s.url.username, "app_id": "wampchat"})

    def finished(self, caller: RemoteCaller) -> None:
        self._callers.pop((caller.node, caller.request), None)

    # -- receiving -------------------------------------------------------------------------------------
    def on_message(self, delivery) -> None:
        """One message from another node; anything malformed is logged and dropped, never raised."""
        delivery.ack()
        if delivery.properties.get("user_id") not in self._settings.node_users:
            self.log.warn("a cluster call message from {user!r}, not a node: dropped",
                          user=delivery.properties.get("user_id"))
            return
        try:
            body = cbor2.loads(delivery.body)
            kind, node, request = body["t"], body["node"], body["req"]
            handler = self._handlers[kind]
        except Exception as e:   # malformed: nothing a peer sends stops the node
            self.log.warn("a malformed cluster call message dropped: {e}", e=e)
            return
        try:
            handler(self, node, request, body)
        except Exception:
            self.log.failure("a cluster call message from {node} could not be handled", node=node)

    def _invocation(self, node, request, body) -> None:
        caller = RemoteCaller(self, node, request, body["caller"])
        self._callers[(node, request)] = caller
        call = message.Call(request, body["proc"], args=body.get("args"), kwargs=body.get("kwargs"),
                            receive_progress=body.get("progress") or None)
        self._dealer.call(caller, call, local_only=True)

    def _interrupt(self, node, request, body) -> None:
        caller = self._callers.get((node, request))
        if caller is not None:
            self._dealer.cancel(caller, message.Cancel(request, mode=body.get("mode") or "kill"))

    def _yield(self, node, request, body) -> None:
        callee = self._callees.get(node)
        if callee is not None:
            self._dealer.on_yield(callee, message.Yield(request, args=body.get("args"), kwargs=body.get("kwargs"),
                                                        progress=body.get("progress") or None))

    def _error(self, node, request, body) -> None:
        callee = self._callees.get(node)
        if callee is not None:
            self._dealer.on_error(callee, message.Error(message.Invocation.MESSAGE_TYPE, request, body["error"],
                                                        args=body.get("args"), kwargs=body.get("kwargs")))

    # -- questions to every node (the session meta API across nodes) ------------------------------------
    def ask(self, node: str, kind: str, payload, timeout: float = ASK_TIMEOUT):
        """A Deferred of what ``node`` answers to ``kind`` (one of its ``answerers``); fails with TimeoutError
        when it does not answer within ``timeout`` seconds."""
        self._asked += 1
        request = self._asked
        d: defer.Deferred = defer.Deferred()
        timer = self._clock.callLater(timeout, self._unanswered, request)
        self._asks[request] = (d, timer)
        self.send(node, {"t": "ask", "req": request, "kind": kind, "payload": payload})
        return d

    def _unanswered(self, request) -> None:
        d, _ = self._asks.pop(request, (None, None))
        if d is not None:
            d.errback(TimeoutError("the node did not answer"))

    def _question(self, node, request, body) -> None:
        answerer = self.answerers.get(body.get("kind"))
        if answerer is None:
            self.send(node, {"t": "ans", "req": request, "error": ["wamp.error.no_such_procedure", "unknown"]})
            return
        d = defer.maybeDeferred(answerer, body.get("payload"))
        d.addCallbacks(lambda value: self.send(node, {"t": "ans", "req": request, "value": value}),
                       lambda f: self.send(node, {"t": "ans", "req": request, "error": error_of(f)}))

    def _answer(self, node, request, body) -> None:
        d, timer = self._asks.pop(request, (None, None))
        if d is None:
            return
        if timer.active():
            timer.cancel()
        if "error" in body:
            uri, text = body["error"]
            d.errback(ApplicationError(uri, text))
        else:
            d.callback(body.get("value"))

    _handlers = {"inv": _invocation, "int": _interrupt, "yld": _yield, "err": _error, "ask": _question,
                 "ans": _answer}


def error_of(failure) -> list:
    """[uri, text] of a failed answer (an ApplicationError's own, else a runtime error)."""
    e = failure.value
    if isinstance(e, ApplicationError):
        return [e.error, e.args[0] if e.args else ""]
    return ["wamp.error.runtime_error", "the node could not answer"]
