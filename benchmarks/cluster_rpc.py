"""
A call across nodes against one on the same node (one router across nodes, API §10).

``python -m benchmarks.cluster_rpc CALLEE_URL CALLER_URL [CALLS] [IN_FLIGHT]`` registers ``app.bench.echo``
on the callee's node, waits until the caller's node can call it, then makes ``CALLS`` calls (every loop is
bounded in count and time) with ``IN_FLIGHT`` outstanding, and prints one JSON line: calls/s and the
latency percentiles. :func:`measure` runs it for a same-node and a cross-node pair of a running cluster.
"""
import json
import subprocess
import sys
import time

DEADLINE = 120.0   # seconds one run may take at most


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else None


def run(callee_url, caller_url, calls=2000, in_flight=10):
    from autobahn.wamp.exception import ApplicationError
    from twisted.internet import defer, reactor, task

    from wampchat.testing import connect

    result = {}

    async def main():
        callee = await connect(callee_url, authmethods=["anonymous"], authextra={"nick": "BenchCallee"})
        await callee.register(lambda x: x, "app.bench.echo")
        caller = await connect(caller_url, authmethods=["anonymous"], authextra={"nick": "BenchCaller"})
        started = time.monotonic()
        while True:   # the caller's node learns of the registration within a second
            try:
                await caller.call("app.bench.echo", 0)
                break
            except ApplicationError:
                if time.monotonic() - started > 10:
                    raise
                await task.deferLater(reactor, 0.05, lambda: None)
        latencies, left = [], [calls]

        async def worker():
            while left[0] > 0 and time.monotonic() - started < DEADLINE:
                left[0] -= 1
                t0 = time.perf_counter()
                await caller.call("app.bench.echo", 1)
                latencies.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(in_flight)], consumeErrors=True)
        elapsed = time.perf_counter() - t0
        result.update(calls=len(latencies), calls_per_s=len(latencies) / elapsed, p50_ms=percentile(latencies, 50),
                      p99_ms=percentile(latencies, 99))

    def done(outcome):
        reactor.stop()
        return outcome
    reactor.callWhenRunning(lambda: defer.ensureDeferred(main()).addBoth(done))
    reactor.run()
    print(json.dumps(result), flush=True)


def measure(callee_node, caller_node, calls, in_flight=10):
    """One run in a child process (a fresh reactor): {calls, calls_per_s, p50_ms, p99_ms}."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.cluster_rpc", callee_node.url, caller_node.url,
                          str(calls), str(in_flight)], capture_output=True, text=True, timeout=DEADLINE + 30)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"cluster RPC run failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results):
    head = f"{'RPC, 10 calls in flight':40} {'calls/s':>9} {'p50':>8} {'p99':>8}"
    lines = [head, "-" * len(head)]
    for key, label in (("rpc_same_node", "callee and caller on one node"),
                       ("rpc_cross_node", "callee on node 1, caller on node 2")):
        m = results.get(key)
        if m is None:
            lines.append(f"{label:40} (not measured)")
            continue
        lines.append(f"{label:40} {m['calls_per_s']:>9,.0f} {m['p50_ms']:>7.2f}ms {m['p99_ms']:>7.2f}ms")
    return "\n".join(lines)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:5]))
