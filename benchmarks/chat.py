"""
The chat send path and a cluster of 1, 2 and 3 nodes, measured like the router benchmarks.

``chat.message.send`` is what every chat user does, and unlike a plain
publish it commits a row before it answers: its cost is the database (one
fsync per group commit on PostgreSQL), the chat service and the fan-out of
the event together. So it is measured on the stores a deployment uses: the
embedded SQLite file and a private PostgreSQL server with fsync on (what a
server runs with; the tests turn it off for speed).

The cluster figures put the same load on one, two and three nodes sharing
one PostgreSQL and one private RabbitMQ node, with the subscribers split
over the nodes and the publisher (or the senders) on the first. CPU is read
from /proc of every node process and, separately, of the broker and the
database server, so the table shows where the cost of a delivered event goes.
"""
import copy
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from array import array
from contextlib import ExitStack
from pathlib import Path

from benchmarks import cluster_rpc, routers
from benchmarks.fleet import BenchError, Fleet, percentile
from wampchat import testing_servers

ROOM = "lobby"
# Benchmark senders send flat out, far past a person's pace; the per-user limit
# (default 20 per 10 s) would refuse them. The limit's bookkeeping still runs.
SEND_RATE = 1_000_000
NODE_IDS = ("nodea", "nodeb", "nodec")


class Processes:
    """CPU seconds of named process groups: ``{name: function returning the pids now}``."""

    def __init__(self):
        self.groups = {}

    def add(self, name, pids):
        self.groups[name] = pids

    def cpu(self):
        return {name: sum(routers.proc_cpu_seconds(pid) for pid in pids()) for name, pids in self.groups.items()}


def postgres_pids(server):
    """The postmaster and its children (backends, WAL writer, checkpointer): the whole database server."""
    pid = server.server_pid()
    return lambda: [pid] + [child for child, _ in routers.children(pid)]


class Backends:
    """The PostgreSQL server and RabbitMQ node the benchmarks need, started on first use, stopped on exit."""

    def __init__(self, stack, notes):
        self._stack = stack
        self._notes = notes
        self.postgres = None
        self.rabbitmq = None
        self._databases = 0

    def database(self):
        """A fresh empty database on the private server (fsync on); its ``--db`` URL."""
        if self.postgres is None:
            if not testing_servers.postgres_available():
                raise routers.RouterUnavailable("PostgreSQL 15 is not installed (Debian package postgresql)")
            server = testing_servers.PostgresServer(tempfile.mkdtemp(prefix="wampchat-bench-pg-"), fsync=True)
            self._stack.callback(shutil.rmtree, server.base, True)
            server.start()
            self._stack.callback(server.stop)
            server.set_up()
            self.postgres = server
        self._databases += 1
        name = f"bench{self._databases}"
        self.postgres.psql(f"CREATE DATABASE {name} OWNER {testing_servers.PG_ROLE}")
        return self.postgres.url(database=name)

    def broker(self):
        """The private RabbitMQ node, with the node user (full permissions on ``/``); its ``--amqp`` URL."""
        if self.rabbitmq is None:
            if not os.path.exists(testing_servers.RABBITMQ_SERVER):
                raise routers.RouterUnavailable("RabbitMQ is not installed (Debian package rabbitmq-server)")
            base = tempfile.mkdtemp(prefix="wampchat-bench-rabbit-")
            self._stack.callback(shutil.rmtree, base, True)
            node = testing_servers.RabbitNode(base)
            self._stack.callback(node.kill_epmd)
            self._stack.callback(node.stop)
            node.start()
            node.add_user(*testing_servers.NODE_USER)
            self.rabbitmq = node
        return self.rabbitmq.url(testing_servers.NODE_USER)


ROOT = Path(__file__).resolve().parent.parent
CEILING = Path(__file__).resolve().parent / "ceiling"   # its sitecustomize answers send batches without a store


def start_node(workdir, db, name, amqp=None, node_id=None, source=None, pythonpath=()):
    extra = ["--send-rate", str(SEND_RATE)]
    if amqp:
        extra += ["--amqp", amqp, "--node-id", node_id, "--amqp-retry-max", "1"]
    return routers.start_wampchat(workdir, db=db, extra=extra, name=name, source=source, pythonpath=pythonpath)


def export_revision(revision, dest, repo=ROOT):
    """The files of ``repo`` (this repository) at ``revision`` (``git archive``) in ``dest``, to run that
    wampchat beside this one; RouterUnavailable when there is no git history to take it from."""
    try:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", revision],
                                 capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise routers.RouterUnavailable(f"cannot run git to export {revision}: {e}") from e
    if archive.returncode != 0:
        why = " ".join(archive.stderr.decode("utf-8", "replace").split())
        raise routers.RouterUnavailable(f"no revision {revision} in {repo} to compare with ({why})")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


class Setup:
    """One row of the chat table: which wampchat (or Crossbar) on which store."""

    def __init__(self, key, label, store, router="wampchat", revision=None, pythonpath=()):
        self.key = key
        self.label = label
        self.store = store
        self.router = router
        self.revision = revision        # run the wampchat of this earlier commit
        self.pythonpath = pythonpath


def chat_setups(s, baseline_sources=None):
    """Every row the chat suite measures, in the order it runs them: per store, its baseline commit (where it
    has that store; ``baseline_sources``: store -> exported checkout), this wampchat and (on the first store)
    its ceiling; then Crossbar + the chat component per store."""
    setups = []
    for store in s.chat_stores:
        name = STORE_NAMES[store]
        revision = s.chat_baselines.get(store)
        if revision and (baseline_sources is None or baseline_sources.get(store)):
            setups.append(Setup(f"baseline_{store}", f"{revision} (baseline), {name}", store, revision=revision))
        setups.append(Setup(store, f"wampchat, {name}", store))
        if s.chat_ceiling and store == s.chat_stores[0]:
            # this checkout after the ceiling: the venv's own wampchat may be another checkout's
            setups.append(Setup("ceiling", "wampchat, sends not stored (ceiling)", store,
                                pythonpath=(CEILING, ROOT)))
    if s.chat_crossbar:
        setups += [Setup(f"crossbar_{store}", f"Crossbar + chat component, {STORE_NAMES[store].split(' (')[0]}",
                         store, router="crossbar") for store in s.chat_stores]
    return setups


def export_baselines(s, into, notes, repo=ROOT):
    """{store: checkout of its baseline commit}, each commit exported once; a commit that cannot be
    exported, or lacks the store, becomes a note and its row is left out."""
    sources, exported = {}, {}
    for store in s.chat_stores:
        revision = s.chat_baselines.get(store)
        if not revision:
            continue
        try:
            if revision not in exported:
                exported[revision] = export_revision(revision, os.path.join(into, revision), repo)
            source = exported[revision]
            if store != "sqlite" and not os.path.isdir(os.path.join(source, "wampchat", "storage")):
                raise routers.RouterUnavailable(f"{revision} has no {STORE_NAMES[store]} store")
            sources[store] = source
        except routers.RouterUnavailable as e:
            notes.append(f"chat send on baseline_{store} not measured: {e}")
            print(notes[-1], flush=True)
    return sources


STORE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL (fsync on)"}


class CrossbarChat:
    """Crossbar.io plus wampchat's chat service as a component process joined to it over a WebSocket.

    ``url`` is Crossbar's (the clients connect there), ``http_url`` the
    component's /metrics; ``stop()`` ends both.
    """

    def __init__(self, router, component, http_url, log_path):
        self.router = router
        self.component = component
        self.url = router.url
        self.http_url = http_url
        self.log_path = log_path

    def stop(self):
        if self.component.poll() is None:
            self.component.terminate()
            try:
                self.component.wait(10)
            except subprocess.TimeoutExpired:
                self.component.kill()
                self.component.wait(5)
        self.router.stop()


def start_crossbar_chat(workdir, db, timeout=60):
    """Crossbar (callers disclosed to callees), then ``benchmarks.crossbar_chat`` on ``db``, once it serves."""
    routers.ensure_crossbar()
    router = routers.start_crossbar(workdir, disclose_caller=True)
    ready = os.path.join(workdir, "component.ready")
    log_path = os.path.join(workdir, "component.log")
    port = routers.free_port()
    cmd = [sys.executable, "-m", "benchmarks.crossbar_chat", "--url", router.url, "--db", db,
           "--metrics-port", str(port), "--send-rate", str(SEND_RATE), "--ready", ready]
    with open(log_path, "ab") as log:
        component = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    started = CrossbarChat(router, component, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready):
        if component.poll() is not None or time.monotonic() > deadline:
            started.stop()
            raise routers.RouterUnavailable(f"the chat component did not join Crossbar within {timeout}s; "
                                            f"log tail:\n{routers.tail(log_path)}")
        time.sleep(0.1)  # polling for the ready file, with a deadline
    return started


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def spread_over(fleet, nodes, role, sessions, workers, **spec):
    """``sessions`` of ``role`` split evenly over ``nodes``, each share over its part of ``workers`` processes."""
    ids = []
    for node, share, procs in zip(nodes, split(sessions, len(nodes)), split(max(workers, len(nodes)), len(nodes))):
        if share:
            ids += fleet.spread(role, share, procs, url=node.url, **spec)
    return ids


SEND_METRICS = ("wampchat_chat_send_batches_total", "wampchat_chat_send_items_total")


def measure_send(nodes, sender_node, processes, s):
    """``s.chat_senders`` guests on ``sender_node`` send to the lobby, ``s.chat_subscribers`` guests on ``nodes``
    receive: accepted sends/s, call-to-result latency, CPU per send for each process group, group-commit size."""
    per_sender = max(1, s.chat_sends // s.chat_senders)
    expected = per_sender * s.chat_senders
    with Fleet(sender_node.url, s.chat_serializer, s) as fleet:
        subs = spread_over(fleet, nodes, "chat_subscribe", s.chat_subscribers, s.workers, expected=expected,
                           room=ROOM, client=s.chat_client)
        fleet.wait("ready", subs, s.connect_timeout * 4)
        senders = fleet.spread("chat_send", s.chat_senders, min(s.chat_senders, s.workers), sends=per_sender,
                               room=ROOM, client=s.chat_client)
        fleet.wait("ready", senders, s.connect_timeout * 4)  # the warm-up messages are sent and delivered
        time.sleep(0.5)  # the connect storm and the warm-up are over before the CPU clock starts
        before = routers.scrape(sender_node, SEND_METRICS)
        sent0 = events_sent(nodes)
        cpu0 = processes.cpu()
        fleet.go.set()
        done = fleet.wait("done", senders + subs, s.run_timeout + 30)
        cpu1 = processes.cpu()
        after = routers.scrape(sender_node, SEND_METRICS)
        sent1 = events_sent(nodes)
    sent = sum(done[i]["sent"] for i in senders)
    started = min(done[i]["started"] for i in senders)
    ended = max(done[i]["ended"] for i in senders)
    latencies = array("d")
    for i in senders:
        latencies.frombytes(done[i]["latencies"])
    ordered = sorted(latencies)
    delivered = sum(done[i]["received"] for i in subs)
    last = max((done[i]["last"] for i in subs if done[i]["last"] is not None), default=ended)
    batches = after[SEND_METRICS[0]] - before[SEND_METRICS[0]]
    items = after[SEND_METRICS[1]] - before[SEND_METRICS[1]]
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    result = {"senders": s.chat_senders, "subscribers": s.chat_subscribers, "nodes": len(nodes),
              "sent": sent, "expected_sent": expected, "delivered": delivered, "expected": sent * s.chat_subscribers,
              "seconds": max(1e-9, ended - started), "sends_per_s": sent / max(1e-9, ended - started),
              "events_per_s": delivered / max(1e-9, last - started),
              "p50_ms": percentile(ordered, 50) * 1000 if ordered else None,
              "p99_ms": percentile(ordered, 99) * 1000 if ordered else None,
              "batches": batches, "batch_items": items, "batch_mean": items / batches if batches else None,
              "cpu_s": cpu, "short": short_workers(fleet, subs, done),
              "events_sent_by_nodes": difference(sent0, sent1)}
    result["cpu_us_per_send"] = {name: v * 1e6 / max(1, sent) for name, v in cpu.items()}
    result["cpu_us_per_event"] = {name: v * 1e6 / max(1, delivered) for name, v in cpu.items()}
    return result


def measure_fanout(nodes, processes, s):
    """1 publisher on the first node to ``app.`` (burst), ``s.cluster_subscribers`` subscribers split over
    ``nodes``: delivered events/s and CPU per delivered event for each process group."""
    subscribers = s.cluster_subscribers
    events = max(s.min_events, s.cluster_deliveries // subscribers)
    with Fleet(nodes[0].url, s.chat_serializer, s) as fleet:
        subs = spread_over(fleet, nodes, "subscribe", subscribers, s.workers, expected=events)
        pub = fleet.spawn("publish", mode="burst", count=events, batch=s.batch)
        fleet.wait("ready", subs + [pub], s.connect_timeout * 4)
        time.sleep(0.5)
        sent0 = events_sent(nodes)
        cpu0 = processes.cpu()
        fleet.go.set()
        done = fleet.wait("done", subs + [pub], s.run_timeout + 30)
        cpu1 = processes.cpu()
        sent1 = events_sent(nodes)
    published = done[pub]
    delivered = sum(done[i]["received"] for i in subs)
    last = max((done[i]["last"] for i in subs if done[i]["last"] is not None), default=published["ended"])
    elapsed = max(1e-9, last - published["started"])
    cpu = {name: cpu1[name] - cpu0[name] for name in cpu1}
    return {"short": short_workers(fleet, subs, done), "events_sent_by_nodes": difference(sent0, sent1),
            "subscribers": subscribers, "nodes": len(nodes), "published": published["published"],
            "delivered": delivered, "expected": subscribers * published["published"], "seconds": elapsed,
            "events_per_s": delivered / elapsed, "cpu_s": cpu,
            "cpu_us_per_event": {name: v * 1e6 / max(1, delivered) for name, v in cpu.items()}}


DELIVERY_METRICS = ("wampchat_events_delivered_total", "wampchat_slow_consumer_disconnects_total")


def events_sent(nodes):
    """(EVENTs written, slow consumers dropped) by each node so far, from its /metrics: a shortfall then
    shows whether a node fell short or dropped subscribers that could not keep up (a load generator
    starved of CPU does that), or events went missing on the way; None for a server without them."""
    counts = []
    for node in nodes:
        try:
            values = routers.scrape(node, DELIVERY_METRICS)
            counts.append(tuple(values[name] for name in DELIVERY_METRICS))
        except OSError:
            counts.append(None)
    return counts


def difference(before, after):
    return [tuple(b - a for a, b in zip(x, y)) if x is not None and y is not None else None
            for x, y in zip(before, after)]


def short_workers(fleet, subs, done):
    """Subscriber workers that got fewer events than they expected: (node URL, received, expected) each."""
    return [(fleet.specs[i]["url"], done[i]["received"], done[i]["expected"]) for i in subs
            if done[i]["received"] < done[i]["expected"]]


def nodes_cpu(measurement, unit="cpu_us_per_event"):
    """The figure summed over the wampchat node processes (not the broker, not the database)."""
    return sum(v for name, v in measurement[unit].items() if name.startswith("node"))


def step(label, results, key, notes, fn):
    """Run one measurement into ``results[key]``; a failure becomes a note, and the others still run."""
    try:
        results[key] = fn()
        print(f"[{label}] {key}: {summary(results[key])}", flush=True)
        m = results[key]
        if m["delivered"] < m["expected"] or m.get("sent", 0) < m.get("expected_sent", 0):
            notes.append(f"{label} {key}: only {m['delivered']} of {m['expected']} events reached the subscribers"
                         " before they gave up (15 s without an event, or the run timeout)"
                         f" ({m.get('sent', '-')} of {m.get('expected_sent', '-')} sends accepted); the nodes"
                         f" (events written, slow consumers dropped) by each node: {m['events_sent_by_nodes']};"
                         f" short subscriber workers (node, received, expected): {m['short']}")
            print(f"[{label}] {key}: {notes[-1]}", flush=True)
    except (BenchError, routers.RouterUnavailable, RuntimeError) as e:
        notes.append(f"{label} {key}: {e}")
        print(f"[{label}] {key} FAILED: {e}", flush=True)


def summary(m):
    keys = ("sends_per_s", "events_per_s", "p50_ms", "p99_ms", "batch_mean", "delivered", "expected")
    parts = [f"{k}={m[k]:.4g}" if isinstance(m.get(k), float) else f"{k}={m.get(k)}" for k in keys if k in m]
    parts += [f"cpu/{'send' if 'cpu_us_per_send' in m else 'event'} {name}={v:.1f}us"
              for name, v in m.get("cpu_us_per_send", m["cpu_us_per_event"]).items()]
    return ", ".join(parts)


def bench_chat(s, backends, notes):
    """The send path on one node for every row of :func:`chat_setups`: this wampchat on SQLite and on
    PostgreSQL (fsync on), the baseline commits and the ceiling beside it, Crossbar + the chat component."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-chat-baselines-") as baselines:
        sources = export_baselines(s, baselines, notes)
        for setup in chat_setups(s, sources):
            measure_setup(setup, sources.get(setup.store) if setup.revision else None, s, backends, results, notes)
    return results


def measure_setup(setup, source, s, backends, results, notes):
    """Start the node (or Crossbar + the component) of ``setup``, measure the send path into
    ``results[setup.key]``, stop it; a node that does not start becomes a note."""
    key = setup.key
    with tempfile.TemporaryDirectory(prefix=f"bench-chat-{key}-") as workdir:
        try:
            db = backends.database() if setup.store == "postgresql" else None
            if setup.router == "wampchat":
                node = start_node(workdir, db, "nodea", source=source, pythonpath=setup.pythonpath)
            else:
                node = start_crossbar_chat(workdir, db or os.path.join(workdir, "chat.sqlite"))
        except (routers.RouterUnavailable, RuntimeError) as e:
            notes.append(f"chat send on {key} not measured: {e}")
            print(notes[-1], flush=True)
            return
        try:
            processes = Processes()
            if setup.router == "wampchat":
                processes.add("node a", lambda pid=node.pid: [pid])
            else:
                processes.add("crossbar router", lambda pid=node.router.pid: [pid])
                processes.add("chat component", lambda pid=node.component.pid: [pid])
            if setup.store == "postgresql":
                processes.add("postgres", postgres_pids(backends.postgres))
            print(f"[chat {key}] serving at {node.url}", flush=True)
            step(f"chat {key}", results, key, notes, lambda: measure_send([node], node, processes, s))
            if measures_target(setup, s):   # the same node again, at the CPU target's load
                target = copy.copy(s)
                target.chat_subscribers = s.chat_target_subscribers
                step(f"chat {key}", results, f"{key}{TARGET}", notes,
                     lambda: measure_send([node], node, processes, target))
        finally:
            node.stop()


TARGET = "_target"   # the key suffix of a row measured at the CPU target's load


def measures_target(setup, s) -> bool:
    """Whether ``setup`` is also measured at the send path's CPU target's load (issue 32: 10 senders and
    ``s.chat_target_subscribers`` subscribers on SQLite, this wampchat against the SQLite baseline)."""
    return bool(getattr(s, "chat_target_subscribers", 0)) and setup.store == "sqlite" \
        and setup.key in ("sqlite", "baseline_sqlite")


def target_table(results, s) -> str:
    """The rows at the CPU target's load, and this wampchat's server CPU per send and p99 against the
    baseline's: the target is at most 0.5x the CPU per send with p99 no worse (at most 1.0x)."""
    load = f"chat.message.send, {s.chat_senders} senders, {s.chat_target_subscribers} subs"
    head = (f"{load:46} {'sends/s':>9} {'p50':>8} {'p99':>8} {'batch':>6} {'server CPU':>10}")
    lines = [head, "-" * len(head)]
    for setup in chat_setups(s):
        if not measures_target(setup, s):
            continue
        m = results.get(setup.key + TARGET)
        if m is None:
            lines.append(f"{setup.label:46} (not measured)")
            continue
        lines.append(f"{setup.label + lost(m):46} {fmt(m['sends_per_s']):>9} {fmt(m['p50_ms'], 'ms'):>8} "
                     f"{fmt(m['p99_ms'], 'ms'):>8} {fmt(m['batch_mean'], '', 2):>6} {fmt(server_cpu(m), 'us'):>10}")
    base, now = results.get("baseline_sqlite" + TARGET), results.get("sqlite" + TARGET)
    if base and now and server_cpu(base) and base["p99_ms"]:
        lines.append(f"against {s.chat_baselines['sqlite']}: server CPU per send "
                     f"{server_cpu(now) / server_cpu(base):.2f}x (target <= 0.50x), "
                     f"p99 {now['p99_ms'] / base['p99_ms']:.2f}x (target <= 1.00x)")
    return "\n".join(lines)


def server_cpu(m):
    """Server CPU per accepted send: every process measured but the database server's."""
    return sum(v for name, v in m["cpu_us_per_send"].items() if name != "postgres")


CLUSTER_SIZES = (1, 2, 3)


def bench_cluster(s, backends, notes):
    """The same loads on 1, 2 and 3 nodes (one PostgreSQL, one RabbitMQ), subscribers split over them; with
    2 nodes up, RPC on one node against RPC across nodes."""
    results = {}
    try:
        amqp = backends.broker()
        db = backends.database()
    except (routers.RouterUnavailable, RuntimeError) as e:
        notes.append(f"cluster not measured: {e}")
        print(notes[-1], flush=True)
        return results
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as workdir, ExitStack() as nodes_stack:
        processes = Processes()
        processes.add("rabbitmq", lambda pid=backends.rabbitmq.server_pid(): [pid])
        processes.add("postgres", postgres_pids(backends.postgres))
        nodes = []
        for count in CLUSTER_SIZES:
            if not grow_cluster(nodes, count, workdir, db, amqp, nodes_stack, processes, notes):
                break
            label = f"cluster {count} node{'s' if count > 1 else ''}"
            step(label, results, f"fanout_{count}", notes, lambda: measure_fanout(nodes, processes, s))
            step(label, results, f"send_{count}", notes, lambda: measure_send(nodes, nodes[0], processes, s))
            if count == 2:
                measure_cluster_rpc(nodes, s, results, notes)
    return results


def grow_cluster(nodes, count, workdir, db, amqp, nodes_stack, processes, notes):
    """Start nodes until there are ``count``; False (and a note) if one would not start."""
    try:
        while len(nodes) < count:
            node_id = NODE_IDS[len(nodes)]
            node = start_node(workdir, db, node_id, amqp, node_id)
            nodes_stack.callback(node.stop)
            processes.add(f"node {node_id[-1]}", lambda pid=node.pid: [pid])
            nodes.append(node)
            print(f"[cluster] {node_id} pid {node.pid} at {node.url}", flush=True)
    except (routers.RouterUnavailable, RuntimeError) as e:
        notes.append(f"cluster with {count} nodes not measured: {e}")
        print(notes[-1], flush=True)
        return False
    return True


def measure_cluster_rpc(nodes, s, results, notes):
    """One router across nodes: a call to another node's callee against a local one."""
    calls = 500 if s.cluster_deliveries < 10_000 else 5000
    for key, caller in (("rpc_same_node", nodes[0]), ("rpc_cross_node", nodes[1])):
        try:
            results[key] = cluster_rpc.measure(nodes[0], caller, calls)
            print(f"[cluster RPC] {key}: {results[key]}", flush=True)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            notes.append(f"cluster RPC {key} not measured: {e}")
            print(notes[-1], flush=True)


def lost(m):
    """A mark for a row whose subscribers did not get every event (the notes say how many and where)."""
    return " (!)" if m["delivered"] < m["expected"] else ""


def fmt(value, unit="", digits=1):
    return f"{value:,.{digits}f}{unit}" if value is not None else "-"


def chat_table(results, s):
    """The send-path rows (:func:`chat_setups`), then this wampchat's rate against the baseline's."""
    head = (f"{'chat.message.send, ' + str(s.chat_senders) + ' senders, ' + str(s.chat_subscribers) + ' subs':46}"
            f" {'sends/s':>9} {'p50':>8} {'p99':>8} {'batch':>6} {'server CPU':>10} {'db CPU':>9} {'events/s':>10}")
    lines = [head, "-" * len(head)]
    for setup in chat_setups(s):
        m = results.get(setup.key)
        if m is None:
            lines.append(f"{setup.label:46} (not measured)")
            continue
        per_send = m["cpu_us_per_send"]
        server = server_cpu(m)
        lines.append(f"{setup.label + lost(m):46} {fmt(m['sends_per_s']):>9} {fmt(m['p50_ms'], 'ms'):>8} "
                     f"{fmt(m['p99_ms'], 'ms'):>8} {fmt(m['batch_mean'], '', 2):>6} {fmt(server, 'us'):>10} "
                     f"{fmt(per_send.get('postgres'), 'us'):>9} {fmt(m['events_per_s']):>10}")
    lines.append(f"(clients: {s.chat_client}; latency: call to result; batch: sends per group commit; CPU per "
                 "accepted send: server = the wampchat process, or Crossbar's router worker + the component process; db = the PostgreSQL server; (!): not every event reached the subscribers, see the notes)")
    ratios = baseline_ratios(results, s)
    if ratios:
        lines.append("sends/s against the baseline: " + ", ".join(ratios))
    if any(measures_target(setup, s) for setup in chat_setups(s)):
        lines += ["", target_table(results, s)]
    return "\n".join(lines)


def baseline_ratios(results, s):
    """``"SQLite 1.42x (6f7b158)"`` for every store its baseline ran on, and the ceiling against the first
    store's baseline."""
    ratios = []
    for store in s.chat_stores:
        base, now = results.get(f"baseline_{store}"), results.get(store)
        if base and now and base["sends_per_s"]:
            ratios.append(f"{STORE_NAMES[store]} {now['sends_per_s'] / base['sends_per_s']:.2f}x "
                          f"({s.chat_baselines[store]})")
    base = results.get(f"baseline_{s.chat_stores[0]}") if s.chat_stores else None
    ceiling = results.get("ceiling")
    if base and ceiling and base["sends_per_s"]:
        ratios.append(f"ceiling (sends not stored) {ceiling['sends_per_s'] / base['sends_per_s']:.2f}x")
    return ratios


def cluster_table(results, s):
    """Delivered events/s and CPU per delivered event on 1, 2 and 3 nodes, each against 1 node."""
    head = (f"{'cluster (PostgreSQL + RabbitMQ), json':44} {'nodes':>5} {'events/s':>10} {'scaling':>8} "
            f"{'nodes CPU/ev':>12} {'vs 1 node':>9} {'rabbit/ev':>10} {'pg/ev':>8}")
    lines = [head, "-" * len(head)]
    loads = [("fanout", f"app. publish, {s.cluster_subscribers} subs split"),
             ("send", f"chat send, {s.chat_senders} senders, {s.chat_subscribers} subs split")]
    for key, label in loads:
        one = results.get(f"{key}_1")
        for count in CLUSTER_SIZES:
            m = results.get(f"{key}_{count}")
            if m is None:
                lines.append(f"{label:44} {count:>5} (not measured)")
                continue
            scaling = m["events_per_s"] / one["events_per_s"] if one and one["events_per_s"] else None
            cost = nodes_cpu(one) if one else 0
            cost_ratio = nodes_cpu(m) / cost if cost else None
            per = m["cpu_us_per_event"]
            lines.append(f"{label + lost(m):44} {count:>5} {fmt(m['events_per_s']):>10} {fmt(scaling, 'x', 2):>8} "
                         f"{fmt(nodes_cpu(m), 'us'):>12} {fmt(cost_ratio, 'x', 2):>9} "
                         f"{fmt(per.get('rabbitmq'), 'us'):>10} {fmt(per.get('postgres'), 'us'):>8}")
    lines.append("(events/s delivered to subscribers on all nodes; scaling: against 1 node; CPU per delivered event "
                 "summed over the node processes (vs 1 node: against the 1-node row), and the broker's and "
                 "database's apart; (!): not every event reached the subscribers, see the notes)")
    lines += ["", cluster_rpc.table(results)]
    return "\n".join(lines)
