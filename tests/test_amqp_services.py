"""AMQP services against the bridge's trust boundaries (README "The RabbitMQ bridge", docs/API.md RabbitMQ):
whose chat identity AMQP RPC uses, where answers may go, and whose message ids count as repeats."""
import itertools
import json
import re
import uuid

import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions

from helpers import Collector, poll_until
from rabbitmq import (NODE_USER, OTHER_SERVICE_USER, SERVICE_USER, PikaPeer, access_refused, admin, amqp_server,
                      bridge_of, metric, rabbitmq)  # noqa: F401 (fixture)

ACK = PublishOptions(acknowledge=True)
PASSWORD = "a long password"
NOT_AUTHORIZED = "wamp.error.not_authorized"
RESTRICTED = ("permsvc", "permsvc-secret")  # a service user with exactly the README's permissions


def documented_service_permissions(user):
    """The README's RabbitMQ permissions for an AMQP service (configure, write, read): its own ``<user>.*``
    queues, the public exchange and RPC."""
    own = re.escape(user) + r"\..*"
    return (f"^{own}$", rf"^({own}|wampchat|wampchat\.rpc)$", rf"^({own}|wampchat)$")


async def refusal(d):
    """The ApplicationError a call fails with (the test fails if it succeeds)."""
    try:
        result = await d
    except ApplicationError as e:
        return e
    raise AssertionError(f"expected an error, got {result!r}")


# -- 1. broker identities and chat accounts --------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_amqp_rpc_runs_only_as_a_service_account_an_admin_made(rabbitmq, make_server, clients):
    """A guest who registers the broker user's name gets nothing from it: the service's calls are refused
    until an admin makes a service account, then they run as that account (its name, its display name), and
    a demoted account is refused again at once."""
    server = await amqp_server(make_server, rabbitmq)
    peer = await PikaPeer.connect(rabbitmq)
    bot = await PikaPeer.connect(rabbitmq, OTHER_SERVICE_USER)
    try:
        guest = await clients(server.ws_url)
        await guest.call("chat.user.register", SERVICE_USER[0], PASSWORD, display_name="Official Bot")
        squatter = await clients(server.ws_url, authmethods=["ticket"], authid=SERVICE_USER[0], secret=PASSWORD)
        await squatter.call("chat.room.create", "hideout", private=True)
        await squatter.call("chat.message.send", "hideout", "the squatter's secret")
        for procedure, args in (("chat.user.me", []), ("chat.message.history", ["hideout"]),
                                ("chat.message.send", ["lobby", "posted under the squatter's name"]),
                                ("wamp.session.count", [])):
            reply = await peer.call(procedure, args)
            assert reply["error"] == NOT_AUTHORIZED, (procedure, reply)
        assert "wampchat-admin adduser svc --role service" in reply["args"][0]
        history = await guest.call("chat.message.history", "lobby")
        assert history["messages"] == []
        # a broker user without any chat account: refused as well
        assert (await bot.call("chat.user.me", user=OTHER_SERVICE_USER[0]))["error"] == NOT_AUTHORIZED

        await admin(server, "adduser", OTHER_SERVICE_USER[0], "--role", "service", "--display-name", "The Bot")
        me = await bot.call("chat.user.me", user=OTHER_SERVICE_USER[0])
        assert me == {"result": {"user": "bot", "nick": "The Bot", "role": "service"}}
        sent = (await bot.call("chat.message.send", ["lobby", "beep"], user=OTHER_SERVICE_USER[0]))["result"]
        assert (sent["user"], sent["nick"], sent["text"]) == ("bot", "The Bot", "beep")
        # the session meta API is the service role's over AMQP as over WAMP
        count = await bot.call("wamp.session.count", user=OTHER_SERVICE_USER[0])
        assert count["result"] >= 2, count  # the guest and the squatter at least
        taken = await refusal(guest.call("chat.user.register", "bot", PASSWORD))
        assert taken.error == "wampchat.error.conflict"

        await admin(server, "setuser", OTHER_SERVICE_USER[0], "--role", "user")
        assert (await bot.call("chat.user.me", user=OTHER_SERVICE_USER[0]))["error"] == NOT_AUTHORIZED
        assert metric(server, "wampchat_amqp_rpc_errors_total") == 6
    finally:
        peer.close()
        bot.close()


@pytest_twisted.ensureDeferred
async def test_node_user_names_cannot_be_registered(rabbitmq, make_server, clients):
    """The --amqp user and every --amqp-node-users name are refused by chat.user.register with the answer a
    taken name gets, as usernames and as display names."""
    server = await amqp_server(make_server, rabbitmq, "--amqp-node-users", "wcother")
    guest = await clients(server.ws_url)
    await guest.call("chat.user.register", "someone", PASSWORD)
    taken = await refusal(guest.call("chat.user.register", "someone", PASSWORD))
    for name in (NODE_USER[0], "wcother"):
        refused = await refusal(guest.call("chat.user.register", name, PASSWORD))
        assert (refused.error, refused.args) == (taken.error, (taken.args[0].replace("someone", name),))
    as_nick = await refusal(guest.call("chat.user.register", "another", PASSWORD, display_name="WCNode"))
    assert as_nick.error == taken.error
    assert await guest.call("chat.user.register", "wcnode_fan", PASSWORD)


# -- 2. where answers go ---------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_answers_go_only_to_direct_reply_to_or_the_callers_own_queues(rabbitmq, make_server, clients):
    """A request whose reply_to names a node's queue, the RPC queue, another user's queue or any other name
    the caller does not own is dropped: not called, not answered, counted. Direct reply-to and the caller's
    ``<user_id>.*`` queues are answered."""
    server = await amqp_server(make_server, rabbitmq)
    await admin(server, "adduser", SERVICE_USER[0], "--role", "service")
    callee = await clients(server.ws_url)
    called = []
    await callee.register(lambda n: called.append(n) or n, "app.echo")
    peer = await PikaPeer.connect(rabbitmq)  # full rights on the test broker, as a careless setup would give
    try:
        watched = ["wampchat.victim", "bot.inbox", "svcx.inbox", "svc", "svc."]
        for queue in watched:
            await peer.channel.queue_declare(queue=queue, exclusive=True)
        bad = watched + ["wampchat.node.nodea", "wampchat.cluster.node.nodea", "wampchat.rpc", "wampchat",
                         "amq.gen-Xyz", "amq.rabbitmq.reply-tox"]
        for n, reply_to in enumerate(bad):
            await peer.publish("app.echo", {"args": [n]}, exchange="wampchat.rpc", reply_to=reply_to,
                               correlation_id=str(n), user_id=SERVICE_USER[0])
        await peer.channel.queue_declare(queue="svc.replies", exclusive=True)
        own = await peer.consume("svc.replies")
        await peer.publish("app.echo", {"args": ["own"]}, exchange="wampchat.rpc", reply_to="svc.replies",
                           correlation_id="own", user_id=SERVICE_USER[0])
        _, _, props, body = await own.get()
        assert (props.correlation_id, json.loads(body)) == ("own", {"result": "own"})
        assert await peer.call("app.echo", ["direct"]) == {"result": "direct"}
        for queue in watched:
            declared = await peer.channel.queue_declare(queue=queue, passive=True)
            assert declared.method.message_count == 0, queue
        assert called == ["own", "direct"]
        assert metric(server, "wampchat_amqp_rpc_bad_reply_to_total") == len(bad)
        assert bridge_of(server).link.state == "connected"
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_with_the_documented_permissions_a_service_creates_only_its_own_queues(rabbitmq, make_server,
                                                                                     clients):
    """The README's service permissions: RPC answers on direct reply-to and on a ``<user>.*`` queue, a
    listening queue of that name, and no server-named (``amq.gen-*``) or other user's queue."""
    if RESTRICTED[0] not in rabbitmq.ctl("list_users"):
        rabbitmq.ctl("add_user", *RESTRICTED)
        rabbitmq.ctl("set_permissions", "-p", "/", RESTRICTED[0], *documented_service_permissions(RESTRICTED[0]))
    server = await amqp_server(make_server, rabbitmq)
    await admin(server, "adduser", RESTRICTED[0], "--role", "service")
    peer = await PikaPeer.connect(rabbitmq, RESTRICTED)
    try:
        assert await peer.call("chat.user.me", user=RESTRICTED[0]) == {
            "result": {"user": "permsvc", "nick": "permsvc", "role": "service"}}
        await peer.channel.queue_declare(queue="permsvc.lobby", exclusive=True)
        await peer.channel.queue_bind(queue="permsvc.lobby", exchange="wampchat",
                                      routing_key="chat.room.lobby.message")
        lobby = await peer.consume("permsvc.lobby")
        await peer.channel.queue_declare(queue="permsvc.replies", exclusive=True)
        replies = await peer.consume("permsvc.replies")
        await peer.publish("chat.message.send", {"args": ["lobby", "hello"]}, exchange="wampchat.rpc",
                           reply_to="permsvc.replies", correlation_id=uuid.uuid4().hex, user_id=RESTRICTED[0])
        _, _, _, answer = await replies.get()
        sent = json.loads(answer)["result"]
        _, _, _, event = await lobby.get()
        assert json.loads(event)["args"] == [sent]
        for attempt in (lambda ch: ch.queue_declare(queue="", exclusive=True),
                        lambda ch: ch.queue_declare(queue="svc.stolen", exclusive=True),
                        lambda ch: ch.queue_declare(queue="wampchat.node.fake")):
            channel = await peer.connection.channel()
            assert await access_refused(lambda: attempt(channel))
    finally:
        peer.close()


# -- 3. repeats --------------------------------------------------------------------------------------

def predictable_ids(monkeypatch, broker, first):
    """``broker``'s publication ids become first, first + 1, ... (as if its generator's state had leaked);
    other brokers in this process keep theirs."""
    import wampchat.router.broker as broker_module

    random_id = broker_module.publication_id
    sequence = itertools.count(first)
    publishing = []
    publish_from = broker.publish_from

    def publish_from_predictably(*args, **kwargs):
        publishing.append(True)
        try:
            return publish_from(*args, **kwargs)
        finally:
            publishing.pop()

    monkeypatch.setattr(broker, "publish_from", publish_from_predictably)
    monkeypatch.setattr(broker_module, "publication_id", lambda: next(sequence) if publishing else random_id())


@pytest_twisted.ensureDeferred
async def test_a_service_cannot_suppress_a_nodes_event_with_its_message_id(rabbitmq, make_server, clients,
                                                                            tmp_path, monkeypatch):
    """A service that knows the message ids node A will use and publishes them first (with A's header too)
    has its own messages delivered, and A's events still reach node B's subscribers, none counted a repeat."""
    a = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "a.sqlite"), node_id="nodea")
    b = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "b.sqlite"), node_id="nodeb")
    ann, bob = await clients(a.ws_url), await clients(b.ws_url)
    news, decoys = Collector(), Collector()
    await bob.subscribe(news, "app.news")
    await bob.subscribe(decoys, "app.decoy")
    predictable_ids(monkeypatch, a.router.realm(a.options["router_config"].realm).broker, first=1000)
    peer = await PikaPeer.connect(rabbitmq)
    try:
        upcoming = [f"nodea:{n}" for n in range(1000, 1020)]
        for message_id in upcoming:
            await peer.publish("app.decoy", {"args": [message_id]}, user_id=SERVICE_USER[0], message_id=message_id,
                               headers={"wampchat-node": "nodea"})
        await peer.publish("app.news", {"args": ["from the service"]}, user_id=SERVICE_USER[0],
                           message_id="nodeb:1", headers={"wampchat-node": "nodea"})
        await decoys.wait_for(len(upcoming))
        await news.wait_for(1)
        await ann.publish("app.news", "from node A", options=ACK)
        await ann.publish("app.news", "again from node A", options=ACK)
        await news.wait_for(3)
        assert [args for args, _ in news.events] == [("from the service",), ("from node A",),
                                                     ("again from node A",)]
        assert metric(b, "wampchat_amqp_duplicates_total") == 0
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_a_senders_own_repeats_are_still_dropped(rabbitmq, make_server, clients):
    """The same message id from the same broker user is delivered once; without a user_id nothing is a
    repeat (nobody vouches for the sender)."""
    server = await amqp_server(make_server, rabbitmq)
    session = await clients(server.ws_url)
    feed = Collector()
    await session.subscribe(feed, "app.", options=SubscribeOptions(match="prefix"))
    peer = await PikaPeer.connect(rabbitmq)
    try:
        for text in ("first", "resent"):
            await peer.publish("app.feed", {"args": [text]}, user_id=SERVICE_USER[0], message_id="m-1")
        for text in ("anonymous", "anonymous again"):
            await peer.publish("app.feed", {"args": [text]}, message_id="m-1")
        await peer.publish("app.feed", {"args": ["marker"]}, user_id=SERVICE_USER[0], message_id="m-2")
        await feed.wait_for(4)
        await poll_until(lambda: metric(server, "wampchat_amqp_duplicates_total") == 1)
        assert [args for args, _ in feed.events] == [("first",), ("anonymous",), ("anonymous again",), ("marker",)]
    finally:
        peer.close()
