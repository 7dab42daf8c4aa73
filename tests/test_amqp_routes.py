"""Each node's route from the shared exchanges to its queues (wampchat/amqp/topology.py): the broker never
delivers a node's own publications back to it, and a node gets only the restricted publications its
sessions subscribe to."""
import pytest_twisted
from autobahn.wamp.types import PublishOptions

from helpers import Collector
from rabbitmq import SERVICE_USER, PikaPeer, amqp_server, metric, rabbitmq  # noqa: F401 (fixture)

ACK = PublishOptions(acknowledge=True)
STORE_INDEPENDENT = True  # the broker's routing is under test, not the store: one store is enough


@pytest_twisted.ensureDeferred
async def test_a_nodes_own_publications_never_come_back_but_a_services_do(rabbitmq, make_server, clients):
    """With a session on the node subscribed to the topic (so the node's queue is bound to it), what the node
    publishes reaches an AMQP consumer of ``wampchat`` but never the node's queue; a service's message after
    them does arrive (had the node's come back, they would have been queued before it)."""
    server = await amqp_server(make_server, rabbitmq, node_id="echonode")
    peer = await PikaPeer.connect(rabbitmq)
    try:
        outside = await peer.listen(binding="app.echo")
        feed = Collector()
        await (await clients(server.ws_url)).subscribe(feed, "app.echo")
        alice = await clients(server.ws_url)
        for n in range(3):
            await alice.publish("app.echo", n, options=ACK)
        assert [m.exchange for _, m, _, _ in await outside.take(3)] == ["wampchat"] * 3
        await peer.publish("app.echo", {"args": ["from the service"]}, user_id=SERVICE_USER[0], message_id="svc-e1")
        await feed.wait_for(4)
        assert [args for args, _ in feed.events] == [(0,), (1,), (2,), ("from the service",)]
        assert metric(server, "wampchat_amqp_own_returned_total") == 0
        assert metric(server, "wampchat_amqp_received_total") == 1
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_a_forged_node_header_keeps_only_the_forgers_message_from_that_node(rabbitmq, make_server, clients,
                                                                                  tmp_path):
    """A service that sets node B's ``wampchat-node`` header on its message keeps that message from B's
    subscribers (B takes it for its own), and from nobody else: node A and other AMQP consumers get it."""
    a = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "a.sqlite"), node_id="forgea")
    b = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "b.sqlite"), node_id="forgeb")
    on_a, on_b = Collector(), Collector()
    await (await clients(a.ws_url)).subscribe(on_a, "app.forged")
    await (await clients(b.ws_url)).subscribe(on_b, "app.forged")
    peer = await PikaPeer.connect(rabbitmq)
    try:
        outside = await peer.listen(binding="app.forged")
        await peer.publish("app.forged", {"args": ["as B"]}, user_id=SERVICE_USER[0], message_id="svc-f1",
                           headers={"wampchat-node": "forgeb"})
        await peer.publish("app.forged", {"args": ["plain"]}, user_id=SERVICE_USER[0], message_id="svc-f2")
        await on_a.wait_for(2)
        await on_b.wait_for(1)
        assert len(await outside.take(2)) == 2
        assert [args for args, _ in on_a.events] == [("as B",), ("plain",)]
        assert [args for args, _ in on_b.events] == [("plain",)]
    finally:
        peer.close()


@pytest_twisted.ensureDeferred
async def test_a_node_gets_only_the_restricted_publications_its_sessions_subscribe_to(rabbitmq, make_server,
                                                                                      clients, tmp_path):
    """A publication with a limited audience crosses on the node-only cluster exchange to a node whose
    session subscribes to its topic, and is not even delivered to a node where nobody does."""
    a = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "a.sqlite"), node_id="resta")
    b = await amqp_server(make_server, rabbitmq, "--db", str(tmp_path / "b.sqlite"), node_id="restb")
    watcher, on_b = await clients(b.ws_url), Collector()
    await watcher.subscribe(on_b, "app.marker")
    publisher = await clients(a.ws_url)
    for n in range(3):  # nobody on b subscribes to app.private
        await publisher.publish("app.private", n, options=eligible(watcher))
    await publisher.publish("app.marker", "last", options=eligible(watcher))
    await on_b.wait_for(1)  # b's cluster queue is FIFO: any app.private routed to it came before the marker
    assert [args for args, _ in on_b.events] == [("last",)]
    assert metric(b, "wampchat_cluster_received_total") == 1
    assert metric(a, "wampchat_amqp_own_returned_total") == 0


def eligible(session):
    """Publish options that limit the audience to ``session``'s user (as private rooms' events are)."""
    return PublishOptions(acknowledge=True, eligible_authid=[session.details.authid])
