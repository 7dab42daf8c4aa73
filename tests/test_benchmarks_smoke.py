"""A seconds-long run of ``python -m benchmarks.run`` against wampchat, to keep the benchmark working.

This checks that every figure is produced and sane; it measures nothing
(the real numbers come from ``make bench``).
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run a tiny benchmark once in a subprocess (it spawns its own router and workers) and load its JSON."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    cmd = [sys.executable, "-m", "benchmarks.run", "--quick", "--only", "wampchat", "--serializers", "msgpack",
           "--subscribers", "4,8", "--deliveries", "800", "--calls", "100", "--idle-sessions", "10",
           "--latency-subscribers", "4", "--latency-rate", "400", "--latency-seconds", "1", "--workers", "2",
           "--output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.timeout(300)
def test_every_figure_is_produced_and_sane(results):
    """Fan-out delivers every event, RPC answers every call, latency and memory are finite and positive."""
    data, stdout = results
    assert data["notes"] == [], data["notes"]
    figures = data["results"]["wampchat"]["msgpack"]
    for n in (4, 8):
        fanout = figures[f"fanout_{n}"]
        assert fanout["delivered"] == fanout["expected"] == n * fanout["published"] > 0
        assert fanout["events_per_s"] > 0 and fanout["cpu_us_per_event"] > 0
    rpc = figures["rpc"]
    assert rpc["calls"] == rpc["expected"] == 100
    assert rpc["calls_per_s"] > 0 and rpc["cpu_us_per_call"] > 0
    latency = figures["latency"]
    assert latency["delivered"] == latency["expected"] == 4 * latency["published"] > 0
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 10_000
    memory = figures["memory"]
    assert memory["sessions"] == 10 and math.isfinite(memory["kb_per_session"])
    assert "fan-out 4 subs: router CPU/event" in stdout
