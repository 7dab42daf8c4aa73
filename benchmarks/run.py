"""
``python -m benchmarks.run``: the same load against wampchat and Crossbar.io, side by side.

For each router and serializer, on a freshly started router: memory per idle
session, fan-out (1 publisher, N subscribers), RPC (1 callee, 10 callers) and
publish-to-event latency at a fixed rate. Router CPU comes from /proc/<pid>/stat
of the router process, so a slow load generator does not blur the figure.
Prints a table with the wampchat / Crossbar ratio and writes
``benchmarks/results.json``.
"""
import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import sys
import tempfile
import time
from array import array
from contextlib import ExitStack
from pathlib import Path

from benchmarks import amqp, chat, guide, kernel_floor, routers, scale, targets
from benchmarks.fleet import BenchError, Fleet, percentile

RESULTS = Path(__file__).resolve().parent / "results.json"
SUITES = ("routers", "scale", "chat", "cluster", "amqp")
# where the send-path work started: the first wave (SQLite only, one transaction per message) and the
# commit that brought PostgreSQL
BASELINES = "sqlite=6f7b158,postgresql=72ef747"


def raise_nofile():
    """Lift the soft open-files limit to the hard one: 1000 sessions need >1024 descriptors.

    Children (the routers, the workers) inherit it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def measure_memory(router, serializer, s):
    """Router RSS increase per idle joined session, at ``s.idle_sessions`` sessions."""
    time.sleep(0.5)
    before = router.rss_bytes()
    with Fleet(router.url, serializer, s) as fleet:
        ids = fleet.spread("idle", s.idle_sessions, s.workers)
        ready = fleet.wait("ready", ids, s.connect_timeout * 4)
        sessions = sum(r["sessions"] for r in ready.values())
        time.sleep(1.0)  # let the router finish the joins and settle
        after = router.rss_bytes()
    return {"sessions": sessions, "rss_before_kb": before / 1024, "rss_after_kb": after / 1024,
            "kb_per_session": (after - before) / 1024 / sessions}


def measure_fanout(router, serializer, subscribers, s):
    """1 publisher, ``subscribers`` subscribers: delivered events/s and router CPU per delivered event."""
    events = max(s.min_events, s.deliveries // subscribers)
    with Fleet(router.url, serializer, s) as fleet:
        subs = fleet.spread("subscribe", subscribers, s.workers, expected=events)
        pub = fleet.spawn("publish", mode="burst", count=events, batch=s.batch)
        fleet.wait("ready", subs + [pub], s.connect_timeout * 4)
        time.sleep(0.5)  # the connect storm is over before the CPU clock starts
        cpu0 = router.cpu_seconds()
        fleet.go.set()
        done = fleet.wait("done", subs + [pub], s.run_timeout + 30)
        cpu1 = router.cpu_seconds()
    published = done[pub]
    received = [done[i] for i in subs]
    delivered = sum(r["received"] for r in received)
    expected = subscribers * published["published"]
    last = max((r["last"] for r in received if r["last"] is not None), default=published["ended"])
    elapsed = max(1e-9, last - published["started"])
    return {"subscribers": subscribers, "published": published["published"], "delivered": delivered,
            "expected": expected, "seconds": elapsed, "events_per_s": delivered / elapsed,
            "router_cpu_s": cpu1 - cpu0, "cpu_us_per_event": (cpu1 - cpu0) * 1e6 / max(1, delivered)}


def measure_rpc(router, serializer, s):
    """1 callee, ``s.callers`` concurrent callers (one call outstanding each): calls/s and router CPU per call."""
    per_caller = max(1, s.calls // s.callers)
    with Fleet(router.url, serializer, s) as fleet:
        callee = fleet.spawn("callee", sessions=1)
        fleet.wait("ready", [callee], s.connect_timeout * 2)
        caller = fleet.spawn("call", sessions=s.callers, calls=per_caller)
        fleet.wait("ready", [caller], s.connect_timeout * 2)
        time.sleep(0.3)
        cpu0 = router.cpu_seconds()
        fleet.go.set()
        done = fleet.wait("done", [caller], s.run_timeout + 30)[caller]
        cpu1 = router.cpu_seconds()
    elapsed = max(1e-9, done["ended"] - done["started"])
    return {"callers": s.callers, "calls": done["calls"], "expected": per_caller * s.callers, "seconds": elapsed,
            "calls_per_s": done["calls"] / elapsed, "router_cpu_s": cpu1 - cpu0,
            "cpu_us_per_call": (cpu1 - cpu0) * 1e6 / max(1, done["calls"])}


def measure_latency(router, serializer, s):
    """A publisher at a fixed rate to ``s.latency_subscribers`` subscribers; publish-to-event p50/p99."""
    subscribers = s.latency_subscribers
    rate = s.latency_rate / subscribers if s.latency_rate_delivered else s.latency_rate
    count = max(1, int(rate * s.latency_seconds))
    with Fleet(router.url, serializer, s) as fleet:
        subs = fleet.spread("subscribe", subscribers, s.workers, expected=count, latency=True)
        pub = fleet.spawn("publish", mode="paced", count=count, rate=rate)
        fleet.wait("ready", subs + [pub], s.connect_timeout * 4)
        time.sleep(0.5)
        fleet.go.set()
        done = fleet.wait("done", subs + [pub], s.run_timeout + 30)
    samples = array("d")
    for i in subs:
        samples.frombytes(done[i]["latencies"])
    delivered = len(samples)
    ordered = sorted(samples)

    def pct(p):
        return percentile(ordered, p) * 1000 if ordered else None

    return {"subscribers": subscribers, "publications_per_s": rate, "delivered_per_s": rate * subscribers,
            "published": done[pub]["published"], "delivered": delivered, "expected": subscribers * count,
            "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": ordered[-1] * 1000 if ordered else None,
            "mean_ms": statistics.fmean(ordered) * 1000 if ordered else None}


def bench_router(name, serializer, s, notes):
    """Every measurement for one router and serializer, on a freshly started router."""
    result = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
        router = routers.STARTERS[name](workdir)
        try:
            print(f"[{name} {serializer}] router pid {router.pid} at {router.url}", flush=True)
            steps = [("memory", lambda: measure_memory(router, serializer, s))]
            steps += [(f"fanout_{n}", lambda n=n: measure_fanout(router, serializer, n, s)) for n in s.subscribers]
            steps += [("rpc", lambda: measure_rpc(router, serializer, s)),
                      ("latency", lambda: measure_latency(router, serializer, s))]
            steps = [(key, step) for key, step in steps if key.split("_")[0] in s.router_steps]
            for key, step in steps:
                if not router.alive():
                    notes.append(f"{name} {serializer}: router died before {key}; log tail: {routers.tail(router.log_path)}")
                    break
                try:
                    result[key] = step()
                    print(f"[{name} {serializer}] {key}: {short(result[key])}", flush=True)
                except BenchError as e:
                    notes.append(f"{name} {serializer} {key}: {e}")
                    print(f"[{name} {serializer}] {key} FAILED: {e}", flush=True)
        finally:
            router.stop()
    return result


def short(measurement):
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in measurement.items())


ROWS = [
    # label, which measurement, figure, unit, lower is better
    ("fan-out {n} subs: events/s", "fanout_{n}", "events_per_s", "", False),
    ("fan-out {n} subs: router CPU/event", "fanout_{n}", "cpu_us_per_event", "us", True),
    ("RPC 10 callers: calls/s", "rpc", "calls_per_s", "", False),
    ("RPC 10 callers: router CPU/call", "rpc", "cpu_us_per_call", "us", True),
    ("latency p50", "latency", "p50_ms", "ms", True),
    ("latency p99", "latency", "p99_ms", "ms", True),
    ("idle session RSS", "memory", "kb_per_session", "KB", True),
]


def table(results, serializers, fanout_sizes, latency_label):
    """The side-by-side table as text: one row per figure and serializer, and wampchat / Crossbar."""
    lines = [f"{'measurement':42} {'ser':8} {'wampchat':>12} {'crossbar':>12} {'ratio w/c':>10}"]
    lines.append("-" * len(lines[0]))
    for label, key, figure, unit, _lower in ROWS:
        sizes = fanout_sizes if "{n}" in key else [None]
        for n in sizes:
            for ser in serializers:
                values = [results.get(r, {}).get(ser, {}).get(key.format(n=n), {}).get(figure)
                          for r in ("wampchat", "crossbar")]
                text = [f"{v:,.1f}{unit}" if v is not None else "-" for v in values]
                ratio = f"{values[0] / values[1]:.2f}" if None not in values and values[1] else "-"
                name = label.format(n=n) + (f" @{latency_label}" if key == "latency" else "")
                lines.append(f"{name:42} {ser:8} {text[0]:>12} {text[1]:>12} {ratio:>10}")
    return "\n".join(lines)


def floor_rows(results, serializers, fanout_sizes):
    """wampchat's fan-out CPU per delivered event against the kernel's floor measured in the same run."""
    floor = results["kernel_floor"]
    one = floor["cpu_us_per_frame_1"]
    lines = [kernel_floor.floor_table(floor),
             f"{'wampchat fan-out against the floor':42} {'ser':8} {'CPU/event':>12} {'/ 1 per send':>12}"]
    for n in fanout_sizes:
        for ser in serializers:
            value = results["wampchat"].get(ser, {}).get(f"fanout_{n}", {}).get("cpu_us_per_event")
            text = f"{value:.2f}us" if value is not None else "-"
            ratio = f"{value / one:.2f}x" if value is not None and one else "-"
            lines.append(f"{'  ' + str(n) + ' subscribers':42} {ser:8} {text:>12} {ratio:>12}")
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import autobahn
    import twisted
    try:
        import subprocess
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                  cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except OSError:
        revision = None
    return {"wampchat_revision": revision, "cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "twisted": twisted.__version__, "autobahn": autobahn.__version__}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small N and short runs (seconds, not minutes)")
    p.add_argument("--only", choices=["wampchat", "crossbar"], help="benchmark one router only")
    p.add_argument("--serializers", default="json,msgpack", help="comma-separated: json,msgpack")
    p.add_argument("--subscribers", help="fan-out sizes, comma-separated [100,1000; quick: 10,50]")
    p.add_argument("--deliveries", type=int, help="events to deliver per fan-out run [200000; quick: 5000]")
    p.add_argument("--calls", type=int, help="RPC calls in total [20000; quick: 1000]")
    p.add_argument("--idle-sessions", type=int, help="sessions for the memory figure [1000; quick: 50]")
    p.add_argument("--latency-subscribers", type=int, help="[100; quick: 10]")
    p.add_argument("--latency-rate", type=float, default=2000.0,
                   help="events per second delivered in total during the latency run [2000]")
    p.add_argument("--latency-rate-is-publications", action="store_true",
                   help="read --latency-rate as publications per second (each to every subscriber)")
    p.add_argument("--latency-seconds", type=float, help="[10; quick: 2]")
    p.add_argument("--router-steps", default="memory,fanout,rpc,latency",
                   help="the routers suite's measurements, comma-separated [memory,fanout,rpc,latency]")
    p.add_argument("--workers", type=int, default=max(2, min(4, os.cpu_count() or 2)),
                   help="subscriber processes [number of CPUs, 2..4]")
    p.add_argument("--suites", default=",".join(SUITES),
                   help="what to run, comma-separated: routers (wampchat vs Crossbar), scale (20,000 idle sessions, "
                        "wampchat vs Crossbar), chat (the chat.message.send path on SQLite and PostgreSQL), cluster "
                        "(1, 2 and 3 nodes on PostgreSQL + RabbitMQ), amqp (the RabbitMQ bridge against raw txamqp) "
                        "[all]")
    p.add_argument("--chat-stores", default="sqlite,postgresql", help="stores for the chat suite [sqlite,postgresql]")
    p.add_argument("--no-chat-crossbar", dest="chat_crossbar", action="store_false",
                   help="leave out the chat service as a component on Crossbar.io from the chat suite")
    p.add_argument("--chat-baselines", default=BASELINES, metavar="STORE=REV,...",
                   help="earlier commits of this repository run under the same chat load, per store, and this "
                        "wampchat's sends/s against them; '' leaves them out [%(default)s: the send path's CPU "
                        "target's reference on SQLite, and the commit PostgreSQL came with]")
    p.add_argument("--chat-target-subscribers", type=int, default=2,
                   help="the SQLite baseline and this wampchat are measured again with this many subscribers "
                        "(the send path's CPU target: server CPU per send and p99 against the baseline's); 0 "
                        "leaves it out [2]")
    p.add_argument("--no-chat-ceiling", dest="chat_ceiling", action="store_false",
                   help="leave out the ceiling: this wampchat with its send batches answered but not stored "
                        "(benchmarks/ceiling), what the node and the load generator reach with a store that "
                        "costs nothing")
    p.add_argument("--chat-senders", type=int, default=10, help="concurrent chat.message.send callers [10]")
    p.add_argument("--chat-client", choices=("raw", "autobahn"), default="raw",
                   help="the chat senders' and subscribers' WAMP client: a minimal JSON client (raw), so the "
                        "load generator does not take the cores the router needs, or Autobahn [raw]")
    p.add_argument("--chat-subscribers", type=int, help="guests subscribed to the room [100; quick: 20]")
    p.add_argument("--chat-sends", type=int, help="chat messages sent in total per run [3000; quick: 200]")
    p.add_argument("--cluster-subscribers", type=int, help="app. fan-out subscribers, split over the nodes "
                                                            "[100; quick: 20]")
    p.add_argument("--cluster-deliveries", type=int, help="events to deliver per cluster fan-out run [300000, "
                                                           "about 15 s, so each node's periodic work weighs little; "
                                                           "quick: 4000]")
    p.add_argument("--scale-sessions", type=int, help="idle sessions joined to wampchat in the scale suite "
                                                        "[20000, or what the open-files limit allows; quick: 300]")
    p.add_argument("--scale-sessions-crossbar", type=int, help="the same for Crossbar [as --scale-sessions]")
    p.add_argument("--scale-inflight", type=int, default=64, help="joins under way at once, in all [64]")
    p.add_argument("--no-scale-restart", dest="scale_restart", action="store_false",
                   help="leave out the scale suite's restart: wampchat stopped and started again under its "
                        "sessions, which all reconnect at once")
    p.add_argument("--amqp-publications", type=int, help="publications for the AMQP mirror and raw-txamqp rows "
                                                         "[50000; quick: 2000]")
    p.add_argument("--amqp-deliveries", type=int, help="messages published into the exchange for the inbound "
                                                       "row [20000; quick: 1000]")
    p.add_argument("--amqp-calls", type=int, help="sequential AMQP RPC calls [2000; quick: 100]")
    p.add_argument("--output", default=str(RESULTS), help=f"JSON results file [{RESULTS}]")
    p.add_argument("--write-guide", action="store_true",
                   help="put the tables and the targets into docs/performance.md (make bench does)")
    s = p.parse_args(argv)
    quick = s.quick
    s.serializers = [x for x in s.serializers.split(",") if x]
    for x in s.serializers:
        if x not in ("json", "msgpack"):
            p.error(f"unknown serializer {x!r}")
    s.subscribers = [int(x) for x in (s.subscribers or ("10,50" if quick else "100,1000")).split(",")]
    s.deliveries = s.deliveries or (5000 if quick else 200_000)
    s.calls = s.calls or (1000 if quick else 20_000)
    s.idle_sessions = s.idle_sessions or (50 if quick else 1000)
    s.latency_subscribers = s.latency_subscribers or (10 if quick else 100)
    s.latency_seconds = s.latency_seconds or (2.0 if quick else 10.0)
    s.latency_rate_delivered = not s.latency_rate_is_publications
    s.router_steps = [x for x in s.router_steps.split(",") if x]
    for x in s.router_steps:
        if x not in ("memory", "fanout", "rpc", "latency"):
            p.error(f"unknown router step {x!r}")
    s.suites = [x for x in s.suites.split(",") if x]
    for x in s.suites:
        if x not in SUITES:
            p.error(f"unknown suite {x!r}")
    s.chat_stores = [x for x in s.chat_stores.split(",") if x]
    for x in s.chat_stores:
        if x not in ("sqlite", "postgresql"):
            p.error(f"unknown store {x!r}")
    try:
        s.chat_baselines = dict(x.split("=", 1) for x in s.chat_baselines.split(",") if x)
    except ValueError:
        p.error(f"--chat-baselines {s.chat_baselines!r}: STORE=REV, comma-separated")
    for x in s.chat_baselines:
        if x not in ("sqlite", "postgresql"):
            p.error(f"--chat-baselines: unknown store {x!r}")
    s.chat_subscribers = s.chat_subscribers or (20 if quick else 100)
    s.chat_sends = s.chat_sends or (200 if quick else 3000)
    s.chat_serializer = "json"  # what the web page speaks
    s.cluster_subscribers = s.cluster_subscribers or (20 if quick else 100)
    s.cluster_deliveries = s.cluster_deliveries or (4000 if quick else 300_000)
    s.scale_sessions = s.scale_sessions or (300 if quick else 20_000)
    s.scale_sessions_crossbar = s.scale_sessions_crossbar or s.scale_sessions
    s.scale_timeout = 60.0 if quick else 240.0
    s.amqp_publications = s.amqp_publications or (2000 if quick else 50_000)
    s.amqp_deliveries = s.amqp_deliveries or (1000 if quick else 20_000)
    s.amqp_calls = s.amqp_calls or (100 if quick else 2000)
    s.min_events = 20 if quick else 100
    s.batch = 20
    s.callers = 10
    s.connect_timeout = 30.0
    s.run_timeout = 60.0 if quick else 180.0
    return s


def main(argv=None):
    started = time.monotonic()
    s = parse_args(sys.argv[1:] if argv is None else argv)
    nofile = raise_nofile()
    names = ([s.only] if s.only else ["wampchat", "crossbar"]) if "routers" in s.suites else []
    notes, results = [], {}
    info = machine()
    info["nofile"] = nofile
    for name in names:
        if name == "crossbar":
            try:
                routers.ensure_crossbar()
                info["crossbar"] = routers.crossbar_version()
            except routers.RouterUnavailable as e:
                notes.append(f"Crossbar not measured: {e}")
                print(notes[-1], flush=True)
                continue
        for ser in s.serializers:
            try:
                results.setdefault(name, {})[ser] = bench_router(name, ser, s, notes)
            except routers.RouterUnavailable as e:
                notes.append(f"{name} {ser} not measured: it could not start: {e}")
                print(notes[-1], flush=True)
    if s.latency_rate_delivered:
        latency_label = f"{s.latency_rate:g} ev/s to {s.latency_subscribers}"
    else:
        latency_label = f"{s.latency_rate:g} pub/s to {s.latency_subscribers}"
    tables = [table(results, s.serializers, s.subscribers, latency_label)] if names else []
    if "wampchat" in results and "fanout" in s.router_steps:
        results["kernel_floor"] = kernel_floor.measure(frames=20_000 if s.quick else 200_000)
        tables.append(floor_rows(results, s.serializers, s.subscribers))
    if "scale" in s.suites:
        scale_names = [s.only] if s.only else ["wampchat", "crossbar"]
        results["scale"] = scale.bench_scale(s, scale_names, notes, nofile, None)
        tables.append(scale.scale_table(results["scale"]))
    with ExitStack() as stack:
        backends = chat.Backends(stack, notes)
        if "chat" in s.suites and s.chat_crossbar and "crossbar" not in info:
            try:
                routers.ensure_crossbar()
                info["crossbar"] = routers.crossbar_version()
            except routers.RouterUnavailable as e:
                notes.append(f"the chat service on Crossbar not measured: {e}")
                s.chat_crossbar = False
        if "chat" in s.suites:
            results["chat"] = chat.bench_chat(s, backends, notes)
            tables.append(chat.chat_table(results["chat"], s))
        if "cluster" in s.suites:
            results["cluster"] = chat.bench_cluster(s, backends, notes)
            tables.append(chat.cluster_table(results["cluster"], s))
        if "amqp" in s.suites:
            results["amqp"] = amqp.bench_amqp(s, backends, notes)
            tables.append(amqp.amqp_table(results["amqp"], s))
    elapsed = time.monotonic() - started
    full = set(s.suites) == set(SUITES) and not s.quick and not s.only
    if full:
        results["bench_seconds"] = elapsed   # the make-bench-time target is about the full run only
    tables.append(guide.targets_table(results, targets.TARGETS, only_measured=not full))
    text = "\n\n".join(tables)
    command = "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    report = "\n".join([
        f"machine: {info['cpus']} x {info['cpu']}, Linux {info['kernel']}, Python {info['python']}, "
        f"Twisted {info['twisted']}, Autobahn {info['autobahn']}, Crossbar {info.get('crossbar', '-')}",
        f"command: {command.strip()}  (wampchat at {info['wampchat_revision']}, {time.strftime('%Y-%m-%d')}, "
        f"{elapsed / 60:.1f} min)",
        text, *(f"note: {note}" for note in notes)])
    print()
    print(report)
    if s.write_guide:
        written = guide.write_guide("```\n" + report + "\n```")
        print(f"{'wrote' if written else 'could not write (no bench markers in)'} {guide.GUIDE}")
    out = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command.strip(), "machine": info,
           "settings": {k: v for k, v in vars(s).items() if k not in ("output",)},
           "results": results, "notes": notes, "table": text.splitlines()}
    Path(s.output).write_text(json.dumps(out, indent=1) + "\n")
    return 0 if any(v for k, v in results.items() if k != "bench_seconds") else 1


if __name__ == "__main__":
    sys.exit(main())
