"""
The AMQP bridge: RabbitMQ as a second door into the realm (API.md §6).

Outbound, it observes the broker (not a WAMP subscription, so it sees every
accepted publication once, whoever may read it) and queues each one, except
``wamp.*``, what itself injected and publications whose publisher limited
their audience (a private room's events: anyone allowed on the exchange
could read them, and other nodes do not know the room's members), on the
link's outbox for the topic exchange. Inbound, it consumes this node's queue (bound to the topics
the node's sessions subscribe to, see :mod:`wampchat.amqp.bindings`) and injects what other nodes and
services published; ``chat.*`` only from node
users, so an AMQP service cannot forge chat traffic. Publications with a
limited audience go instead to the cluster exchange (``<exchange>.cluster``),
which only wampchat nodes may use (RabbitMQ permissions), with that audience
(by authid/authrole), so every node delivers them to the same people and no
AMQP service reads them. RPC requests arrive on
the ``<exchange>.rpc`` direct exchange (its alternate exchange sends every
routing key nobody else bound to our queue) and are called as the broker-
validated ``user_id`` with role ``service``, only when that name is a service
account an admin made; answers go only to direct reply-to or a queue named
``<user_id>.*``. Repeats are dropped per sender (``user_id``, ``message_id``).

Anything malformed is logged, counted, answered when there is a ``reply_to``,
and rejected; nothing a peer sends stops the bridge.
"""
import base64
import json
import re
import uuid
from collections import OrderedDict
from typing import Optional, Tuple

from autobahn.wamp.exception import ApplicationError
from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.amqp.bindings import MAX_KEY_BYTES, TopicBindings, room_of
from wampchat.amqp.link import AmqpLink
from wampchat.amqp.url import AmqpUrl
from wampchat.router.broker import Audience

JSON_TYPE = "application/json"
URI = re.compile(r"^([^\s.#]+\.)*([^\s.#]+)$")   # WAMP's loose URI rule (as Autobahn checks it)
SEEN_IDS = 10000                                 # message ids remembered to drop resent duplicates
NODE_QUEUE_ARGS = {"x-expires": 600000, "x-max-length": 100000}  # durable; a gone node's queue goes after 10 min
GAP_NOTICE = "wampchat.gap"                      # routing key of a node's "my outbox dropped events" notice
GAP_ROOMS = 1000                                 # rooms a notice names; past that it means every room
INVALID_ARGUMENT = "wamp.error.invalid_argument"
RPC_TIMEOUT = 60.0                               # seconds an AMQP caller waits before wamp.error.timeout
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"        # RabbitMQ's pseudo-queue for answers to the caller's channel
WARN_INTERVAL = 60.0                             # seconds between repeated warnings about one AMQP caller
WARNED_KEYS = 1000                               # callers whose last warning time is kept


class BadMessage(ValueError):
    """An inbound message we cannot use; the text says why (it is logged and, for RPC, answered)."""


class BridgeSettings:
    """What the bridge needs besides the router: where the broker is and who we are on it."""

    def __init__(self, url, node_id, exchange="wampchat", node_users=(), outbox=10000, retry_max=10.0):
        self.url = url if isinstance(url, AmqpUrl) else AmqpUrl(url)
        self.node_id = node_id
        self.exchange = exchange
        self.node_users = frozenset(node_users or ()) | {self.url.username}
        self.outbox = outbox
        self.retry_max = retry_max

    @property
    def rpc_exchange(self):
        return f"{self.exchange}.rpc"

    @property
    def node_queue(self):
        return f"{self.exchange}.node.{self.node_id}"

    @property
    def cluster_exchange(self):
        """The node-only fanout exchange: restricted publications (private rooms, DMs) between nodes."""
        return f"{self.exchange}.cluster"

    @property
    def cluster_queue(self):
        return f"{self.exchange}.cluster.node.{self.node_id}"


def _json_default(value):
    """Binary payloads (from MessagePack/CBOR clients) as Autobahn's JSON serializer writes them."""
    if isinstance(value, (bytes, bytearray)):
        return "\x00" + base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_body(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode("utf-8")


def _notice_rooms(body):
    """The rooms of a gap notice's body (a set), or None for every room (also when it cannot be read)."""
    try:
        rooms = json.loads(body.decode("utf-8"))["gap"]["rooms"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(rooms, list) or not all(isinstance(r, str) and r for r in rooms):
        return None
    return {r for r in rooms if room_of(f"chat.room.{r}.gap") == r}


def _json_object(delivery):
    """The body as a JSON object, or BadMessage (wrong content type or encoding, not JSON, not an object)."""
    content_type = delivery.properties.get("content_type")
    if content_type and content_type.split(";")[0].strip().lower() != JSON_TYPE:
        raise BadMessage(f"content_type {content_type!r} is not {JSON_TYPE}")
    encoding = delivery.properties.get("content_encoding")
    if encoding and encoding.lower() not in ("utf-8", "utf8", "identity"):
        raise BadMessage(f"content_encoding {encoding!r} is not supported")
    if not delivery.body:
        return {}
    try:
        data = json.loads(delivery.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadMessage(f"body is not UTF-8 JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadMessage('body must be a JSON object {"args": [...], "kwargs": {...}}')
    return data


def decode_body(delivery):
    """``(args, kwargs)`` from a message body, or BadMessage."""
    return _args_of(_json_object(delivery))


def _args_of(data):
    args, kwargs = data.get("args") or [], data.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise BadMessage('"args" must be a list and "kwargs" an object')
    return args, kwargs


def _dedup_key(delivery) -> Optional[Tuple[str, str]]:
    """What makes a delivery a repeat: its ``message_id`` in its broker-validated ``user_id``'s name space
    (a message without either is never taken for a repeat)."""
    user, message_id = delivery.properties.get("user_id"), delivery.properties.get("message_id")
    if not user or not message_id:
        return None
    return user, message_id


def check_uri(uri, what, reserved_ok=False):
    """BadMessage unless ``uri`` is a valid WAMP URI; ``wamp.*`` only with ``reserved_ok`` (RPC, where the
    router's permissions decide, e.g. the session meta procedures for the service role)."""
    if not uri or not URI.match(uri):
        raise BadMessage(f"routing key {uri!r} is not a valid WAMP {what} URI")
    if uri.startswith("wamp.") and not reserved_ok:
        raise BadMessage(f"{uri!r}: wamp.* is reserved for the router")


class AmqpBridge(service.MultiService):
    """Mirrors a realm's publications to RabbitMQ and lets AMQP services publish and call into it."""

    name = "amqp"
    log = Logger()

    def __init__(self, router, realm_name, settings, reactor):
        super().__init__()
        self.router = router
        self.realm = router.realm(realm_name)
        self.settings = settings
        self.reactor = reactor
        self._seen = OrderedDict()
        self.link = AmqpLink(reactor, settings.url, self._setup, router.metrics, outbox_limit=settings.outbox,
                             retry_max=settings.retry_max, on_drop=self._outbox_dropped)
        self._first_setup = True
        self._lost_rooms = set()   # rooms whose events the full outbox dropped, for the next gap notice
        self._lost_all = False     # ... or every room (too many, or a room list or notification dropped)
        self.link.setServiceParent(self)
        self.bindings = TopicBindings(reactor, settings.node_queue, settings.exchange)
        m = router.metrics
        m.gauge("wampchat_amqp_bindings", "binding keys of this node's queue (one per distinct subscribed topic "
                "pattern)", lambda: len(self.bindings))
        self.m_mirrored = m.counter("wampchat_amqp_mirrored_total", "publications queued for the AMQP exchange")
        self.m_unmirrorable = m.counter("wampchat_amqp_unmirrorable_total",
                                        "publications that could not go to AMQP (topic too long, payload not JSON)")
        self.m_restricted = m.counter("wampchat_amqp_restricted_total",
                                      "publications with a limited audience (eligible/exclude), e.g. private "
                                      "rooms, kept off the exchange")
        self.m_received = m.counter("wampchat_amqp_received_total", "AMQP messages delivered to WAMP subscribers")
        self.m_cluster_out = m.counter("wampchat_cluster_sent_total",
                                       "restricted publications sent to the other nodes on the cluster exchange")
        self.m_cluster_in = m.counter("wampchat_cluster_received_total",
                                      "restricted publications from other nodes delivered here")
        self.m_duplicates = m.counter("wampchat_amqp_duplicates_total", "AMQP messages dropped as already seen")
        self.m_gaps = m.counter("wampchat_amqp_gaps_total",
                                "chat.room.<id>.gap events sent to local subscribers: live events of that room "
                                "may be missing, catch up from history")
        self.m_rejected = m.counter("wampchat_amqp_rejected_total",
                                    "AMQP messages rejected as malformed (body, content type, routing key)")
        self.m_refused = m.counter("wampchat_amqp_refused_total",
                                   "AMQP messages on chat.* from users that are not wampchat nodes")
        self.m_rpc_calls = m.counter("wampchat_amqp_rpc_calls_total", "AMQP RPC requests received")
        self.m_rpc_errors = m.counter("wampchat_amqp_rpc_errors_total", "AMQP RPC requests answered with an error")
        self.m_rpc_unanswerable = m.counter("wampchat_amqp_rpc_unanswerable_total",
                                            "AMQP RPC requests without reply_to (rejected)")
        self.m_rpc_bad_reply_to = m.counter("wampchat_amqp_rpc_bad_reply_to_total",
                                            "AMQP RPC requests whose reply_to is neither direct reply-to nor "
                                            "the caller's own queue (dropped, not called)")
        self._warned = OrderedDict()  # (what, broker user) -> when it was last logged

    def health(self):
        """What /healthz shows under "amqp"."""
        return {"state": self.link.state, "outbox": len(self.link.outbox), "url": str(self.settings.url),
                "exchange": self.settings.exchange, "node": self.settings.node_id}

    def when_connected(self):
        """Deferred firing once the link is up and our queues consume (for tests and embedders)."""
        return self.link.when_connected()

    def startService(self):
        self.realm.broker.add_observer(self._observed)
        self.realm.broker.add_watcher(self.bindings)
        self.router.health["amqp"] = self.health
        super().startService()

    def stopService(self):
        self.realm.broker.remove_observer(self._observed)
        self.realm.broker.remove_watcher(self.bindings)
        return super().stopService()

    # -- broker set-up, on every connection ------------------------------------------
    async def _setup(self, link, channel):
        s = self.settings
        fallback = f"{s.rpc_exchange}.any"
        await channel.exchange_declare(exchange=s.exchange, type="topic", durable=True)
        await channel.exchange_declare(exchange=fallback, type="fanout", durable=True)
        await channel.exchange_declare(exchange=s.rpc_exchange, type="direct", durable=True,
                                       arguments={"alternate-exchange": fallback})
        fresh, self._first_setup = self._first_setup, False  # a new process starts with empty queues
        node_queue = await link.declare_queue(s.node_queue, dict(NODE_QUEUE_ARGS), fresh=fresh)
        newly_bound = await self.bindings.setup(channel, queue_is_new=not node_queue.existed)
        await channel.queue_declare(queue=s.rpc_exchange, durable=True)
        await channel.queue_bind(queue=s.rpc_exchange, exchange=fallback, routing_key="")
        await channel.exchange_declare(exchange=s.cluster_exchange, type="fanout", durable=True)
        cluster_queue = await link.declare_queue(s.cluster_queue, dict(NODE_QUEUE_ARGS), fresh=fresh)
        await channel.queue_bind(queue=s.cluster_queue, exchange=s.cluster_exchange, routing_key="")
        await link.consume(channel, s.cluster_queue, self._on_cluster)
        await link.consume(channel, s.node_queue, self._on_event)
        await link.consume(channel, s.rpc_exchange, self._on_rpc)
        self._signal_missed(node_queue, cluster_queue, newly_bound)
        self._announce_dropped()

    # -- gaps: where live events may be missing, subscribers are told to catch up ------------
    def _signal_missed(self, node_queue, cluster_queue, newly_bound):
        """After set-up: a queue that was not there (expired, deleted, a new process) or that was full
        lost what was routed to it, and a key bound only now got nothing before; tell those rooms."""
        limit = NODE_QUEUE_ARGS["x-max-length"]
        if not (node_queue.existed and cluster_queue.existed):
            self._signal_gap(self._local_rooms(), "queue_lost")
        elif max(node_queue.messages, cluster_queue.messages) >= limit:
            self._signal_gap(self._local_rooms(), "queue_full")
        elif newly_bound:
            self._signal_gap({room_of(key) for key in newly_bound} - {None}, "subscribed_while_away")

    def _local_rooms(self):
        """The rooms this node's sessions follow (from the binding keys of their subscriptions)."""
        return {room_of(key) for key in self.bindings.keys()} - {None}

    def _signal_gap(self, rooms, reason):
        """``chat.room.<id>.gap`` to this node's subscribers only (never mirrored: it has an origin)."""
        for room in sorted(rooms):
            self.realm.broker.inject(f"chat.room.{room}.gap", [{"room": room, "reason": reason}], None,
                                     origin="gap")
        if rooms:
            self.m_gaps.inc(len(rooms))
            self.log.info("live events may be missing ({reason}): told subscribers of {n} rooms to catch up",
                          reason=reason, n=len(rooms))

    def _outbox_dropped(self, messages):
        """The full outbox dropped these: remember their rooms, for the notice sent when the link is back."""
        for msg in messages:
            if msg.routing_key == GAP_NOTICE:  # an older notice: its rooms go into the next one
                rooms = _notice_rooms(msg.body)
                self._lost_all = self._lost_all or rooms is None
                self._lost_rooms |= rooms or set()
            elif room_of(msg.routing_key) is not None:
                self._lost_rooms.add(room_of(msg.routing_key))
            elif msg.routing_key == "chat.rooms" or msg.routing_key.startswith("chat.user."):
                self._lost_all = True  # a room announcement or invitation: every page should look again
        if len(self._lost_rooms) > GAP_ROOMS:
            self._lost_all = True

    def _announce_dropped(self):
        """Tell every node (cluster exchange) which rooms' events this node's outbox dropped; queued behind
        what waits, so it goes out as soon as the link is up."""
        if not (self._lost_rooms or self._lost_all):
            return
        rooms = None if self._lost_all else sorted(self._lost_rooms)
        self._lost_rooms, self._lost_all = set(), False
        s = self.settings
        self.link.publish(s.cluster_exchange, GAP_NOTICE, encode_body({"gap": {"rooms": rooms,
                                                                               "reason": "outbox_overflow"}}), {
            "content_type": JSON_TYPE,
            "delivery_mode": 2,
            "message_id": f"{s.node_id}:gap:{uuid.uuid4().hex}",
            "timestamp": int(self.reactor.seconds()),
            "user_id": s.url.username,
            "app_id": "wampchat",
            "headers": {"wampchat-node": s.node_id},
        })

    def _on_gap_notice(self, delivery):
        """Another node's outbox dropped events: tell our subscribers of those rooms to catch up."""
        rooms = _notice_rooms(delivery.body)
        local = self._local_rooms()
        self._signal_gap(local if rooms is None else local & rooms, "outbox_overflow")
        self._delivered(delivery, self.m_cluster_in)

    # -- outbound ----------------------------------------------------------------------
    def _observed(self, pub):
        """Called by the broker for each accepted publication: queue it, never wait."""
        topic = pub.topic
        if pub.origin is not None or topic.startswith("wamp."):
            return
        s = self.settings
        body = {"args": list(pub.args or []), "kwargs": dict(pub.kwargs or {})}
        exchange, counter = s.exchange, self.m_mirrored
        if pub.audience is not None:  # a limited audience (a private room): never on the shared exchange
            self.m_restricted.inc()
            if pub.audience.local_only:
                return
            body["audience"] = pub.audience.portable()
            exchange, counter = s.cluster_exchange, self.m_cluster_out
        if len(topic.encode("utf-8")) > MAX_KEY_BYTES:
            self.m_unmirrorable.inc()
            self.log.warn("not mirrored to AMQP: topic longer than 255 bytes ({topic:.60}...)", topic=topic)
            return
        try:
            body = encode_body(body)
        except (TypeError, ValueError) as e:
            self.m_unmirrorable.inc()
            self.log.warn("not mirrored to AMQP: payload of {topic} is not JSON-able: {e}", topic=topic, e=e)
            return
        headers = {"wampchat-node": s.node_id}
        if pub.disclosed and pub.publisher is not None:
            headers["wampchat-publisher"] = pub.publisher.authid
        self.link.publish(exchange, topic, body, {
            "content_type": JSON_TYPE,
            "delivery_mode": 2,
            "message_id": f"{s.node_id}:{pub.publication_id}",
            "timestamp": int(self.reactor.seconds()),
            "user_id": s.url.username,
            "app_id": "wampchat",
            "headers": headers,
        })
        counter.inc()

    # -- inbound events ----------------------------------------------------------------
    def _handled_already(self, delivery) -> bool:
        """Our own publication back from the exchange, or one its sender sent before: acked and True.

        Both tests trust only what the broker vouches for: "own" needs a node user's ``user_id``, and a
        repeat is the same ``message_id`` from the same broker-validated ``user_id``, so an AMQP service
        that guesses or copies another sender's message id suppresses nothing but its own messages."""
        from_node = delivery.properties.get("user_id") in self.settings.node_users
        if from_node and delivery.headers.get("wampchat-node") == self.settings.node_id:
            delivery.ack()
            return True
        key = _dedup_key(delivery)
        if key is not None and key in self._seen:
            self.m_duplicates.inc()
            delivery.ack()
            return True
        return False

    def _delivered(self, delivery, counter):
        counter.inc()
        self._remember(delivery)
        delivery.ack()

    def _on_event(self, delivery):
        props = delivery.properties
        headers = delivery.headers
        if self._handled_already(delivery):
            return
        topic = delivery.routing_key
        user = props.get("user_id")
        try:
            check_uri(topic, "topic")
            args, kwargs = decode_body(delivery)
        except BadMessage as e:
            self._reject(delivery, self.m_rejected, str(e))
            return
        from_node = user in self.settings.node_users
        if topic.startswith("chat.") and not from_node:
            self._reject(delivery, self.m_refused, f"chat.* is only accepted from wampchat nodes, not {user!r}")
            return
        publisher = headers.get("wampchat-publisher") if from_node else user
        self.realm.broker.inject(topic, args or None, kwargs or None, origin="amqp",
                                 publisher_authid=publisher if isinstance(publisher, str) else None)
        self._delivered(delivery, self.m_received)

    # -- inbound from the other nodes (restricted publications) ---------------------------
    def _on_cluster(self, delivery):
        user = delivery.properties.get("user_id")
        if self._handled_already(delivery):
            return
        if user not in self.settings.node_users:  # RabbitMQ permissions should make this impossible
            self._reject(delivery, self.m_refused, f"cluster messages come only from nodes, not {user!r}")
            return
        if delivery.routing_key == GAP_NOTICE:
            self._on_gap_notice(delivery)
            return
        topic = delivery.routing_key
        try:
            check_uri(topic, "topic")
            data = _json_object(delivery)
            args, kwargs = _args_of(data)
            audience = Audience.from_portable(data.get("audience"))
        except (BadMessage, ValueError) as e:
            self._reject(delivery, self.m_rejected, str(e))
            return
        publisher = delivery.headers.get("wampchat-publisher")
        self.realm.broker.inject(topic, args or None, kwargs or None, origin="cluster",
                                 publisher_authid=publisher if isinstance(publisher, str) else None,
                                 audience=audience)
        self._delivered(delivery, self.m_cluster_in)

    def _remember(self, delivery) -> None:
        """Keep the delivery's (sender, message id) for :meth:`_handled_already` (the newest SEEN_IDS)."""
        key = _dedup_key(delivery)
        if key is None:
            return
        self._seen[key] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)

    def _reject(self, delivery, counter, why):
        counter.inc()
        self.log.warn("AMQP message on {exchange}/{key} rejected ({id}, user {user}): {why}",
                      exchange=delivery.exchange, key=delivery.routing_key,
                      id=delivery.properties.get("message_id"), user=delivery.properties.get("user_id"), why=why)
        delivery.reject()

    # -- inbound RPC -------------------------------------------------------------------
    def _on_rpc(self, delivery):
        self.m_rpc_calls.inc()
        props = delivery.properties
        reply_to = props.get("reply_to")
        if not reply_to:
            self._reject(delivery, self.m_rpc_unanswerable, "RPC request without reply_to: nobody to answer")
            return
        procedure, user = delivery.routing_key, props.get("user_id")
        if not self._may_reply_to(reply_to, user):
            self._drop_bad_reply_to(delivery, reply_to, user)
            return
        try:
            check_uri(procedure, "procedure", reserved_ok=True)
            args, kwargs = decode_body(delivery)
            if not user:
                raise BadMessage("set the user_id property: calls are made as the broker-validated user")
        except BadMessage as e:
            self.log.warn("AMQP RPC {procedure} from {user} refused: {why}", procedure=procedure, user=user, why=e)
            self._answer(delivery, {"error": INVALID_ARGUMENT, "args": [str(e)], "kwargs": {}})
            return
        d = defer.ensureDeferred(self._call_as_service(procedure, args, kwargs, user))
        d.addTimeout(RPC_TIMEOUT, self.reactor)
        d.addCallbacks(self._call_done, self._call_failed, callbackArgs=(delivery,),
                       errbackArgs=(delivery, procedure, user))

    def _may_reply_to(self, reply_to: str, user: Optional[str]) -> bool:
        """May the node answer at ``reply_to``? Only RabbitMQ's direct reply-to (a name the broker makes
        for the caller's channel) or a queue named ``<user_id>.<anything>``, which the README's service
        permissions let only that user create; never a node's or the broker's own names."""
        if reply_to == DIRECT_REPLY_TO or reply_to.startswith(DIRECT_REPLY_TO + "."):
            return True
        if not user or not reply_to.startswith(user + ".") or len(reply_to) == len(user) + 1:
            return False
        exchange = self.settings.exchange
        return not (reply_to.startswith(("amq.", "wampchat.", exchange + ".")) or reply_to == exchange)

    def _drop_bad_reply_to(self, delivery, reply_to: str, user: Optional[str]) -> None:
        """Never answer where the caller may not receive: counted, logged once a minute per user, rejected
        (and the procedure is not called)."""
        self.m_rpc_bad_reply_to.inc()
        self._warn_now_and_then(
            ("reply_to", user),
            "AMQP RPC {procedure} from {user} dropped: reply_to {reply_to!r} is neither amq.rabbitmq.reply-to "
            "nor a queue named {prefix}<name> (further ones from this user are only counted for a minute)",
            procedure=delivery.routing_key, user=user, reply_to=reply_to, prefix=f"{user}." if user else "<user_id>.")
        delivery.reject()

    async def _call_as_service(self, procedure: str, args: list, kwargs: dict, user: str):
        """Call as ``user`` with role service, if ``user`` is a service account an admin made (wampchat-admin
        adduser NAME --role service, or a config-file user with role service): a broker user name alone is
        no chat identity, anyone could have registered it as an ordinary account."""
        credentials = await self.router.credentials.get_credentials(user)
        if credentials is None or credentials.role != "service":
            self._warn_now_and_then(("account", user), "AMQP RPC {procedure} from {user} refused: no service "
                                    "account {user!r} (wampchat-admin adduser {user} --role service)",
                                    procedure=procedure, user=user)
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED,
                                   f"broker user {user!r} has no service account on this server: an admin "
                                   f"makes one with wampchat-admin adduser {user} --role service")
        return await self.realm.call_as(procedure, args, kwargs, user, "service")

    def _warn_now_and_then(self, key, text: str, **fields) -> None:
        """Log ``text`` unless the same ``key`` was logged within WARN_INTERVAL seconds (a misconfigured
        service would otherwise write a line per request)."""
        now = self.reactor.seconds()
        last = self._warned.get(key)
        if last is not None and now - last < WARN_INTERVAL:
            return
        self._warned[key] = now
        self._warned.move_to_end(key)
        if len(self._warned) > WARNED_KEYS:
            self._warned.popitem(last=False)
        self.log.warn(text, **fields)

    def _call_done(self, result, delivery):
        """``{"result": R}``: R is the one positional result, null for none, the list for several;
        keyword results, when there are any, come as ``"kwargs"`` beside it."""
        args, kwargs = result
        answer = {"result": args[0] if len(args) == 1 else (list(args) or None)}
        if kwargs:
            answer["kwargs"] = dict(kwargs)
        self._answer(delivery, answer)

    def _call_failed(self, failure, delivery, procedure, user):
        if failure.check(ApplicationError):
            e = failure.value
            answer = {"error": e.error, "args": list(e.args), "kwargs": dict(e.kwargs or {})}
        elif failure.check(defer.TimeoutError):
            self.log.warn("AMQP RPC {procedure} from {user}: no answer within {t} s", procedure=procedure,
                          user=user, t=RPC_TIMEOUT)
            answer = {"error": "wamp.error.timeout", "args": [f"no answer within {RPC_TIMEOUT} s"], "kwargs": {}}
        else:
            self.log.failure("AMQP RPC {procedure} from {user} failed", failure, procedure=procedure, user=user)
            answer = {"error": "wamp.error.runtime_error", "args": ["internal error"], "kwargs": {}}
        self._answer(delivery, answer)

    def _answer(self, delivery, answer):
        """Publish the reply to ``reply_to`` (via the outbox, so confirmed) and settle the request."""
        if "error" in answer:
            self.m_rpc_errors.inc()
        try:
            body = encode_body(answer)
        except (TypeError, ValueError) as e:
            self.log.warn("AMQP RPC result is not JSON-able: {e}", e=e)
            self.m_rpc_errors.inc()
            body = encode_body({"error": "wamp.error.runtime_error", "args": ["result is not JSON-able"],
                                "kwargs": {}})
        props = {"content_type": JSON_TYPE, "user_id": self.settings.url.username, "app_id": "wampchat",
                 "headers": {"wampchat-node": self.settings.node_id}}
        correlation_id = delivery.properties.get("correlation_id")
        if correlation_id is not None:
            props["correlation_id"] = correlation_id
        self.link.publish("", delivery.properties["reply_to"], body, props)
        delivery.ack()
