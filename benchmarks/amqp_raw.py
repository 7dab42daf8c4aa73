"""
``python -m benchmarks.amqp_raw``: plain txamqp publishing with publisher confirms, the bridge's yardstick.

What the best a Twisted process can do through txamqp with confirms on this
broker looks like: one connection, one channel in confirm mode, messages
written in batches per reactor turn with at most ``--window`` unconfirmed
(the bridge's outbox bound), the same exchange, routing key, body and
properties the bridge writes. It prints one JSON line: messages, seconds
from the first write to the last confirm, CPU seconds of this process.
"""
import argparse
import json
import os
import resource
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.amqp_raw", description=__doc__.strip().splitlines()[0])
    p.add_argument("--url", required=True, help="amqp://user:password@127.0.0.1:PORT/%%2f")
    p.add_argument("--exchange", default="wampchat")
    p.add_argument("--routing-key", default="app.bench.fanout")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--window", type=int, default=10000, help="most messages unconfirmed at once [10000]")
    p.add_argument("--batch", type=int, default=500, help="messages written per reactor turn [500]")
    p.add_argument("--node-id", default="nodea", help="the wampchat-node header (so a node drops them as its own)")
    p.add_argument("--timeout", type=float, default=120.0)
    return p.parse_args(argv)


def main(argv=None):
    s = parse_args(sys.argv[1:] if argv is None else argv)
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import defer, protocol, reactor
    from txamqp import spec as txamqp_spec
    from txamqp.client import TwistedDelegate
    from txamqp.content import Content
    from txamqp.protocol import AMQClient

    from wampchat.amqp.bodies import encode_body
    from wampchat.amqp.client import SPEC_PATH
    from wampchat.amqp.url import AmqpUrl

    url = AmqpUrl(s.url)
    state = {"sent": 0, "confirmed": 0, "started": None, "ended": None}
    finished = defer.Deferred()

    class Delegate(TwistedDelegate):
        def basic_ack(self, ch, msg):
            tag = msg.delivery_tag
            state["confirmed"] = tag if msg.multiple else max(state["confirmed"], tag)
            if state["confirmed"] >= s.count and not finished.called:
                state["ended"] = time.monotonic()
                finished.callback(None)
            else:
                pump()

        def basic_nack(self, ch, msg):
            if not finished.called:
                finished.errback(RuntimeError(f"the broker nacked up to {msg.delivery_tag}"))

    channel_box = {}

    def pump():
        """Write up to ``batch`` messages if the window allows; again next turn while there is room."""
        channel = channel_box["channel"]
        written = 0
        while state["sent"] < s.count and state["sent"] - state["confirmed"] < s.window and written < s.batch:
            seq = state["sent"]
            state["sent"] += 1
            written += 1
            body = encode_body({"args": [seq, time.monotonic()], "kwargs": {}})
            channel.basic_publish(exchange=s.exchange, routing_key=s.routing_key, content=Content(body, properties={
                "content-type": "application/json", "delivery-mode": 2, "message-id": f"raw:{seq}",
                "timestamp": int(time.time()), "user-id": url.username, "app-id": "wampchat",
                "headers": {"wampchat-node": s.node_id}}))
        if written and state["sent"] < s.count and state["sent"] - state["confirmed"] < s.window:
            reactor.callLater(0, pump)

    @defer.inlineCallbacks
    def run():
        spec = txamqp_spec.load(SPEC_PATH)
        creator = protocol.ClientCreator(reactor, AMQClient, delegate=Delegate(), vhost=url.vhost, spec=spec)
        client = yield creator.connectTCP(url.host, url.port)
        yield client.start("\0" + url.username + "\0" + url.password, "PLAIN")
        channel = yield client.channel(1)
        yield channel.channel_open()
        yield channel.confirm_select()
        channel_box["channel"] = channel
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        state["started"] = time.monotonic()
        pump()
        yield finished.addTimeout(s.timeout, reactor)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        result = {"messages": state["confirmed"], "seconds": state["ended"] - state["started"],
                  "cpu_s": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, "pid": os.getpid()}
        print(json.dumps(result), flush=True)
        client.transport.loseConnection()

    outcome = {"rc": 1}

    def ok(_):
        outcome["rc"] = 0

    def failed(failure):
        print(f"raw txamqp publishing failed: {failure.getErrorMessage()}", file=sys.stderr, flush=True)

    reactor.callWhenRunning(lambda: run().addCallbacks(ok, failed).addBoth(lambda _: reactor.stop()))
    reactor.callLater(s.timeout + 30, reactor.stop)  # a hard stop: nothing outlives its budget
    reactor.run()
    return outcome["rc"]


if __name__ == "__main__":
    sys.exit(main())
