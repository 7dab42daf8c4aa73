"""
AMQP RPC: services call the realm's procedures over RabbitMQ.

Requests arrive on the ``<exchange>.rpc`` direct exchange (its alternate
exchange sends every routing key nobody else bound to our queue), the
routing key naming the procedure. Each is called as the broker-validated
``user_id`` with role ``service``, and only when that name is a service
account an admin made: a broker user name alone is no chat identity.
Answers go only where the caller alone receives them: RabbitMQ's direct
reply-to, or a queue named ``<user_id>.*``; anything else is dropped
uncalled. A misconfigured service is warned about once a minute, not once
per request.
"""
from collections import OrderedDict
from typing import Optional

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.amqp.bodies import JSON_TYPE, BadMessage, check_uri, decode_body, encode_body, reject
from wampchat.amqp.topology import NODE_HEADER

INVALID_ARGUMENT = "wamp.error.invalid_argument"
RPC_TIMEOUT = 60.0                               # seconds an AMQP caller waits before wamp.error.timeout
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"        # RabbitMQ's pseudo-queue for answers to the caller's channel
WARN_INTERVAL = 60.0                             # seconds between repeated warnings about one AMQP caller
WARNED_KEYS = 1000                               # callers whose last warning time is kept


class AmqpRpc:
    """``on_request`` consumes the RPC queue: checks, calls as the service account, answers at reply_to."""

    log = Logger()

    def __init__(self, router, realm, settings, publish, reactor, metrics):
        self.router = router  # its credentials say who has a service account
        self.realm = realm
        self.settings = settings
        self._publish = publish  # the link's publish (the outbox): answers are confirmed too
        self.reactor = reactor
        self._warned = OrderedDict()  # (what, broker user) -> when it was last logged
        m = metrics
        self.m_calls = m.counter("wampchat_amqp_rpc_calls_total", "AMQP RPC requests received")
        self.m_errors = m.counter("wampchat_amqp_rpc_errors_total", "AMQP RPC requests answered with an error")
        self.m_unanswerable = m.counter("wampchat_amqp_rpc_unanswerable_total",
                                        "AMQP RPC requests without reply_to (rejected)")
        self.m_bad_reply_to = m.counter("wampchat_amqp_rpc_bad_reply_to_total",
                                        "AMQP RPC requests whose reply_to is neither direct reply-to nor "
                                        "the caller's own queue (dropped, not called)")

    def on_request(self, delivery):
        self.m_calls.inc()
        props = delivery.properties
        reply_to = props.get("reply_to")
        if not reply_to:
            reject(delivery, self.m_unanswerable, "RPC request without reply_to: nobody to answer")
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
        self.m_bad_reply_to.inc()
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
            self.m_errors.inc()
        try:
            body = encode_body(answer)
        except (TypeError, ValueError) as e:
            self.log.warn("AMQP RPC result is not JSON-able: {e}", e=e)
            self.m_errors.inc()
            body = encode_body({"error": "wamp.error.runtime_error", "args": ["result is not JSON-able"],
                                "kwargs": {}})
        props = {"content_type": JSON_TYPE, "user_id": self.settings.url.username, "app_id": "wampchat",
                 "headers": {NODE_HEADER: self.settings.node_id}}
        correlation_id = delivery.properties.get("correlation_id")
        if correlation_id is not None:
            props["correlation_id"] = correlation_id
        self._publish("", delivery.properties["reply_to"], body, props)
        delivery.ack()
