"""
Issue 32's targets, read from one ``make bench`` run's results (see benchmarks/guide.py for where they go).

Every figure is a ratio measured within the run (wampchat against Crossbar.io,
against the kernel's floor, against a baseline commit, three nodes against one),
so the table says the same thing on a faster or a slower machine.
"""
from benchmarks.chat import nodes_cpu, server_cpu
from benchmarks.guide import dig, ratio

SERIALIZERS = ("json", "msgpack")


def rpc_ratio(serializer):
    def figure(results):
        return ratio(dig(results, "wampchat", serializer, "rpc", "cpu_us_per_call"),
                     dig(results, "crossbar", serializer, "rpc", "cpu_us_per_call"))
    return figure


def worst_fanout_against_floor(results):
    """The highest CPU per delivered event over every fan-out size and serializer, against the floor."""
    one = dig(results, "kernel_floor", "cpu_us_per_frame_1")
    figures = [m["cpu_us_per_event"] for ser in SERIALIZERS
               for key, m in (dig(results, "wampchat", ser) or {}).items() if key.startswith("fanout_")]
    return ratio(max(figures), one) if figures else None


def joins_ratio(figure_name):
    def figure(results):
        return ratio(dig(results, "scale", "wampchat", figure_name), dig(results, "scale", "crossbar", figure_name))
    return figure


def reconnect_seconds(results):
    """Seconds until every session was joined again after the restart (None if some never came back)."""
    again = dig(results, "scale", "wampchat", "restart")
    if not again or again.get("rejoined") != again.get("wanted"):
        return None
    return again.get("reconnect_seconds")


def send_against_baseline(figure):
    def ratio_of(results):
        base, now = dig(results, "chat", "baseline_sqlite_target"), dig(results, "chat", "sqlite_target")
        return ratio(figure(now), figure(base)) if base and now else None
    return ratio_of


def cluster_cost(results):
    """Node CPU per delivered event with three nodes against one node's, for the application fan-out."""
    three, one = dig(results, "cluster", "fanout_3"), dig(results, "cluster", "fanout_1")
    return ratio(nodes_cpu(three), nodes_cpu(one)) if three and one else None


def bench_minutes(results):
    seconds = dig(results, "bench_seconds")
    return seconds / 60 if seconds is not None else None


TARGETS = [
    ("joins: router CPU per join against Crossbar's", joins_ratio("cpu_us_per_join"), 0.5, True, "x"),
    ("joins: joins/s against Crossbar's", joins_ratio("joins_per_s"), 1.5, False, "x"),
    ("joins: every session back after a restart, seconds", reconnect_seconds, 15, True, "s"),
    ("send path: server CPU per send against 6f7b158 (2 subs)", send_against_baseline(server_cpu),
     0.5, True, "x"),
    ("send path: p99 against 6f7b158 (2 subs)", send_against_baseline(lambda m: m["p99_ms"]), 1.0, True, "x"),
    ("RPC: router CPU per call against Crossbar's, JSON", rpc_ratio("json"), 0.3, True, "x"),
    ("RPC: router CPU per call against Crossbar's, MessagePack", rpc_ratio("msgpack"), 0.3, True, "x"),
    ("fan-out: CPU per event against the floor (worst size)", worst_fanout_against_floor, 1.0, True, "x"),
    ("cluster: node CPU per event, 3 nodes against 1 (fan-out)", cluster_cost, 1.15, True, "x"),
    ("make bench: minutes, every suite", bench_minutes, 15, True, ""),
]
