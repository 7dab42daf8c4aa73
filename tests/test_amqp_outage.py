"""Broker outages: publications made while RabbitMQ is down go out after it returns, in order, once."""
import json

import pytest_twisted
from autobahn.wamp.types import PublishOptions
from twisted.internet import threads

from helpers import Collector, poll_until
from rabbitmq import PikaPeer, amqp_server, bridge_of, get_json, metric, rabbitmq  # noqa: F401 (fixture)

ACK = PublishOptions(acknowledge=True)


def numbers(messages):
    return [json.loads(body)["args"][0] for _, _, _, body in messages]


@pytest_twisted.ensureDeferred
async def test_broker_stopped_mid_stream_and_restarted(rabbitmq, make_server, clients):
    """20 publications before, 40 during and 1 after a broker restart reach a durable queue in order, once each."""
    server = await amqp_server(make_server, rabbitmq)
    link = bridge_of(server).link
    peer = await PikaPeer.connect(rabbitmq)
    inbox = await peer.listen(binding="app.outage.#", queue="outage-test", durable=True)
    alice = await clients(server.ws_url)
    local = Collector()
    bob = await clients(server.ws_url)
    await bob.subscribe(local, "app.outage.n")
    restarted = False
    try:
        for n in range(20):
            await alice.publish("app.outage.n", n, options=ACK)
        assert numbers(await inbox.take(20)) == list(range(20))
        await poll_until(lambda: len(link.outbox) == 0)
        peer.close()

        await threads.deferToThread(rabbitmq.stop)
        await poll_until(lambda: link.state != "connected")
        for n in range(20, 60):
            await alice.publish("app.outage.n", n, options=ACK)
        await local.wait_for(60)  # WebSocket users are served throughout
        assert len(link.outbox) == 40
        health = await get_json(server.http_url + "/healthz")
        assert health["amqp"]["state"] in ("down", "connecting") and health["amqp"]["outbox"] == 40

        await threads.deferToThread(rabbitmq.start)
        restarted = True
        await link.when_connected()
        await poll_until(lambda: len(link.outbox) == 0, timeout=30)
        await alice.publish("app.outage.n", 60, options=ACK)
        peer = await PikaPeer.connect(rabbitmq)
        inbox = await peer.consume("outage-test")
        assert numbers(await inbox.take(41)) == list(range(20, 61))
        await alice.publish("app.outage.n", 61, options=ACK)
        assert numbers(await inbox.take(1)) == [61]  # nothing was left between 60 and 61: no duplicates
        assert metric(server, "wampchat_amqp_outbox_dropped_total") == 0
        assert metric(server, "wampchat_amqp_connects_total") == 2
    finally:
        if not restarted:
            await threads.deferToThread(rabbitmq.start)
        if peer.connection.is_open:
            await peer.channel.queue_delete("outage-test")
        peer.close()
