"""
The RabbitMQ bridge: mirrored publications/s with confirms, inbound deliveries/s, and the AMQP RPC round trip.

One wampchat node with ``--amqp`` on a private RabbitMQ node (the one the
cluster suite uses). Each figure is set beside what the same work costs
without the bridge in between, so the table says what the bridge adds:

- **mirror**: a WAMP publisher bursts to an ``app.`` topic; the rate is
  publications the broker *confirmed* (the node's
  ``wampchat_amqp_confirmed_total``), from the first publish until the
  counter reaches the count. The yardstick is ``benchmarks.amqp_raw``:
  plain txamqp publishing the same messages, with confirms, to the same
  exchange with the node still bound to it, so the broker routes both alike.
- **inbound**: a pika publisher (as an AMQP service) publishes into the
  ``wampchat`` exchange; one WAMP subscriber counts the events.
- **rpc**: a pika client calls an ``app.`` procedure (a WAMP callee) through
  ``wampchat.rpc`` with direct reply-to, one call at a time: p50/p99.
"""
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks import routers
from benchmarks.chat import Processes, start_node
from benchmarks.fleet import BenchError, Fleet, percentile
from benchmarks.load import PROCEDURE, TOPIC
from wampchat import testing_servers

INBOUND_TOPIC = "app.bench.inbound"
CONFIRM_METRICS = ("wampchat_amqp_confirmed_total", "wampchat_amqp_outbox_dropped_total",
                   "wampchat_amqp_published_total")
ROOT = Path(__file__).resolve().parent.parent


def poll_metric(node, name, target, timeout, interval=0.01):
    """Scrape ``node`` until ``name`` reaches ``target``; (the time it did, by time.monotonic, last value).

    The 10 ms between scrapes bound the error of the end time; each scrape
    costs the node a little CPU, the same for every run.
    """
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = routers.scrape(node, (name,))[name]
        if value >= target:
            return time.monotonic(), value
        time.sleep(interval)  # polling the node's counter, with a deadline
    raise BenchError(f"{name} reached {value}, not {target}, within {timeout:.0f}s")


def measure_mirror(node, processes, s, subscribed=False):
    """A WAMP publisher bursts ``s.amqp_publications`` to an ``app.`` topic: publications/s confirmed by the broker.

    ``subscribed``: a WAMP session on the node subscribes to the topic too, so
    the node's queue is bound to it and each publication also comes back
    from the broker (to be recognised as the node's own and dropped).
    """
    count = s.amqp_publications
    with Fleet(node.url, "json", s) as fleet:
        # the minimal client: Autobahn's own publishing (about 7,000/s on 2 cores) would set the rate
        pub = fleet.spawn("publish", mode="burst", count=count, batch=s.batch, client="raw")
        waiting = [pub]
        if subscribed:
            waiting.append(fleet.spawn("subscribe", sessions=1, expected=count, topic=TOPIC))
        fleet.wait("ready", waiting, s.connect_timeout * 2)
        time.sleep(0.3)  # the join is over before the CPU clock starts
        before = routers.scrape(node, CONFIRM_METRICS)
        cpu0 = processes.cpu()
        fleet.go.set()
        done = fleet.wait("done", [pub], s.run_timeout + 30)[pub]
        ended, _ = poll_metric(node, CONFIRM_METRICS[0], before[CONFIRM_METRICS[0]] + done["published"],
                               s.run_timeout)
        cpu1 = processes.cpu()
        after = routers.scrape(node, CONFIRM_METRICS)
    confirmed = after[CONFIRM_METRICS[0]] - before[CONFIRM_METRICS[0]]
    seconds = max(1e-9, ended - done["started"])
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    return {"published": done["published"], "confirmed": confirmed, "seconds": seconds,
            "wamp_publish_seconds": done["ended"] - done["started"],
            "confirmed_per_s": confirmed / seconds,
            "dropped": after[CONFIRM_METRICS[1]] - before[CONFIRM_METRICS[1]],
            "cpu_s": cpu, "cpu_us_per_message": {k: v * 1e6 / max(1, confirmed) for k, v in cpu.items()}}


def measure_raw(amqp_url, processes, s):
    """``benchmarks.amqp_raw`` publishes the same count: plain txamqp with confirms."""
    cmd = [sys.executable, "-m", "benchmarks.amqp_raw", "--url", amqp_url, "--count", str(s.amqp_publications),
           "--routing-key", TOPIC, "--timeout", str(s.run_timeout)]
    cpu0 = processes.cpu()
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=s.run_timeout + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"raw txamqp publishing did not finish within {s.run_timeout + 60:.0f}s")
    cpu1 = processes.cpu()
    if out.returncode != 0:
        raise BenchError(f"raw txamqp publishing failed ({out.returncode}): {out.stderr[-1500:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    cpu["publisher"] = r["cpu_s"]
    return {"confirmed": r["messages"], "seconds": r["seconds"], "confirmed_per_s": r["messages"] / r["seconds"],
            "cpu_s": cpu, "cpu_us_per_message": {k: v * 1e6 / max(1, r["messages"]) for k, v in cpu.items()}}


def pika_connection(rabbit):
    import pika

    return pika.BlockingConnection(rabbit.pika_parameters(testing_servers.SERVICE_USER))


def measure_inbound(node, rabbit, processes, s):
    """A pika publisher puts ``s.amqp_deliveries`` into the ``wampchat`` exchange; one WAMP subscriber counts."""
    import pika

    count = s.amqp_deliveries
    connection = pika_connection(rabbit)
    try:
        channel = connection.channel()
        props = pika.BasicProperties(content_type="application/json", user_id=testing_servers.SERVICE_USER[0])
        with Fleet(node.url, "json", s) as fleet:
            sub = fleet.spawn("subscribe", sessions=1, expected=count, topic=INBOUND_TOPIC)
            fleet.wait("ready", [sub], s.connect_timeout * 2)
            time.sleep(0.3)  # the subscription is in place and the join is over
            cpu0 = processes.cpu()
            fleet.go.set()
            started = time.monotonic()
            deadline = started + s.run_timeout
            for seq in range(count):
                if time.monotonic() > deadline:
                    break
                body = json.dumps({"args": [seq, time.monotonic()]}).encode()
                channel.basic_publish("wampchat", INBOUND_TOPIC, body, props)
            published_in = time.monotonic() - started
            done = fleet.wait("done", [sub], s.run_timeout + 30)[sub]
            cpu1 = processes.cpu()
    finally:
        connection.close()
    received = done["received"]
    seconds = max(1e-9, (done["last"] or started) - started)
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    return {"published": count, "received": received, "seconds": seconds, "publish_seconds": published_in,
            "delivered_per_s": received / seconds,
            "cpu_us_per_message": {k: v * 1e6 / max(1, received) for k, v in cpu.items()}}


def measure_rpc(node, rabbit, processes, s):
    """``s.amqp_calls`` sequential AMQP RPC calls to a WAMP callee via ``wampchat.rpc``, direct reply-to."""
    import pika

    calls = s.amqp_calls
    connection = pika_connection(rabbit)
    latencies = []
    try:
        channel = connection.channel()
        replies = {}

        def on_reply(ch, method, properties, body):
            replies[properties.correlation_id] = body

        channel.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
        with Fleet(node.url, "json", s) as fleet:
            callee = fleet.spawn("callee", sessions=1)
            fleet.wait("ready", [callee], s.connect_timeout * 2)
            fleet.go.set()
            cpu0 = processes.cpu()
            deadline = time.monotonic() + s.run_timeout
            for seq in range(calls + 10):  # the first 10 warm up and are not counted
                if time.monotonic() > deadline:
                    break
                correlation_id = uuid.uuid4().hex
                props = pika.BasicProperties(content_type="application/json", reply_to="amq.rabbitmq.reply-to",
                                             correlation_id=correlation_id, user_id=testing_servers.SERVICE_USER[0])
                t0 = time.monotonic()
                channel.basic_publish("wampchat.rpc", PROCEDURE, json.dumps({"args": [seq]}).encode(), props)
                while correlation_id not in replies and time.monotonic() < deadline:
                    connection.process_data_events(time_limit=1)
                if correlation_id not in replies:
                    break
                reply = json.loads(replies.pop(correlation_id))
                if reply.get("result") != seq:
                    raise BenchError(f"AMQP RPC {PROCEDURE}({seq}) answered {reply}")
                if seq >= 10:
                    latencies.append(time.monotonic() - t0)
            cpu1 = processes.cpu()
    finally:
        connection.close()
    ordered = sorted(latencies)
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    return {"calls": len(latencies), "expected": calls,
            "p50_ms": percentile(ordered, 50) * 1000 if ordered else None,
            "p99_ms": percentile(ordered, 99) * 1000 if ordered else None,
            "calls_per_s": len(latencies) / max(1e-9, sum(latencies)),
            "cpu_us_per_call": {k: v * 1e6 / max(1, len(latencies) + 10) for k, v in cpu.items()}}


def add_service_account(db, user):
    """The chat account AMQP RPC runs as (role service, as ``wampchat-admin adduser`` makes it)."""
    from wampchat.admin import add_user_command

    error = add_user_command(db, user[0], "service", None, user[1], int(time.time() * 1000))
    if error is not None:
        raise RuntimeError(f"cannot add the service account {user[0]!r}: {error}")


def bench_amqp(s, backends, notes):
    """Every bridge figure on one node and the shared private broker."""
    results = {}
    try:
        amqp_url = backends.broker()
        rabbit = backends.rabbitmq
        if not getattr(backends, "service_user", False):
            rabbit.add_user(*testing_servers.SERVICE_USER)
            backends.service_user = True
    except (routers.RouterUnavailable, RuntimeError) as e:
        notes.append(f"amqp not measured: {e}")
        print(notes[-1], flush=True)
        return results
    with tempfile.TemporaryDirectory(prefix="bench-amqp-") as workdir:
        db = str(Path(workdir) / "nodea.sqlite")
        try:
            add_service_account(db, testing_servers.SERVICE_USER)
            node = start_node(workdir, db, "nodea", amqp_url, "nodea")
        except (routers.RouterUnavailable, RuntimeError) as e:
            notes.append(f"amqp: the node did not start: {e}")
            return results
        try:
            processes = Processes()
            processes.add("node", lambda pid=node.pid: [pid])
            processes.add("rabbitmq", lambda pid=rabbit.server_pid(): [pid])
            steps = [("mirror", lambda: measure_mirror(node, processes, s)),
                     ("mirror_subscribed", lambda: measure_mirror(node, processes, s, subscribed=True)),
                     ("raw", lambda: measure_raw(amqp_url, processes, s)),
                     ("inbound", lambda: measure_inbound(node, rabbit, processes, s)),
                     ("rpc", lambda: measure_rpc(node, rabbit, processes, s))]
            for key, step in steps:
                try:
                    results[key] = step()
                    print(f"[amqp] {key}: {results[key]}", flush=True)
                except (BenchError, routers.RouterUnavailable, RuntimeError, OSError) as e:
                    notes.append(f"amqp {key}: {e}")
                    print(notes[-1], flush=True)
        finally:
            node.stop()
    m = results.get("mirror")
    if m and m["dropped"]:
        notes.append(f"amqp mirror: the node's outbox dropped {m['dropped']:.0f} publications (full)")
    return results


def amqp_table(results, s):
    head = f"{'RabbitMQ bridge (1 node, json)':52} {'rate/s':>10} {'p50':>8} {'p99':>8} {'node CPU':>9} {'rabbit':>8}"
    lines = [head, "-" * len(head)]

    def cpu(m, key, unit):
        value = m[unit].get(key)
        return f"{value:,.1f}us" if value is not None else "-"

    mirror, raw = results.get("mirror"), results.get("raw")
    rows = [("mirror", f"WAMP publish -> AMQP, confirmed (x{s.amqp_publications})", "confirmed_per_s",
             "cpu_us_per_message", "node"),
            ("mirror_subscribed", "  the same, topic also subscribed on the node", "confirmed_per_s",
             "cpu_us_per_message", "node"),
            ("raw", "raw txamqp publish, confirmed (same broker)", "confirmed_per_s", "cpu_us_per_message",
             "publisher"),
            ("inbound", f"AMQP publish (pika) -> WAMP subscriber (x{s.amqp_deliveries})", "delivered_per_s",
             "cpu_us_per_message", "node"),
            ("rpc", f"AMQP RPC (pika, direct reply-to) -> WAMP callee (x{s.amqp_calls})", "calls_per_s",
             "cpu_us_per_call", "node")]
    for key, label, rate, unit, who in rows:
        m = results.get(key)
        if m is None:
            lines.append(f"{label:52} (not measured)")
            continue
        p50 = f"{m['p50_ms']:.2f}ms" if m.get("p50_ms") is not None else "-"
        p99 = f"{m['p99_ms']:.2f}ms" if m.get("p99_ms") is not None else "-"
        lines.append(f"{label:52} {m[rate]:>10,.0f} {p50:>8} {p99:>8} {cpu(m, who, unit):>9} "
                     f"{cpu(m, 'rabbitmq', unit):>8}")
    if mirror and raw:
        lines.append(f"{'mirror / raw':52} {mirror['confirmed_per_s'] / raw['confirmed_per_s']:>10.2f}")
    subscribed = results.get("mirror_subscribed")
    if subscribed and raw:
        lines.append(f"{'mirror (topic subscribed on the node) / raw':52} "
                     f"{subscribed['confirmed_per_s'] / raw['confirmed_per_s']:>10.2f}")
    lines.append("(mirror: publications the broker confirmed per second, from the first WAMP publish; subscribed: a "
                 "WAMP session on the node listens to the topic, so the node's queue is bound to it and every "
                 "publication comes back to the node; raw: the same messages from plain txamqp; CPU per message: the "
                 "wampchat node (for raw: the txamqp publisher) and the broker)")
    return "\n".join(lines)
