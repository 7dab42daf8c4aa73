"""Seconds-long runs of ``python -m benchmarks.run`` against wampchat, to keep the benchmarks working.

These check that every figure is produced and sane; they measure nothing
(the real numbers come from ``make bench``).
"""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wampchat.testing_servers import RABBITMQ_SERVER, postgres_available

ROOT = Path(__file__).resolve().parent.parent
GIT = shutil.which("git")
IN_GIT = GIT is not None and subprocess.run([GIT, "-C", str(ROOT), "rev-parse", "--verify", "HEAD"],
                                            capture_output=True).returncode == 0


def run_benchmark(out, *args, timeout):
    """``python -m benchmarks.run ARGS --output OUT`` in a subprocess (it spawns its own servers and workers)."""
    cmd = [sys.executable, "-m", "benchmarks.run", *args, "--output", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run a tiny benchmark once in a subprocess (it spawns its own router and workers) and load its JSON."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    return run_benchmark(out, "--quick", "--suites", "routers", "--only", "wampchat", "--serializers", "msgpack",
                         "--subscribers", "4,8", "--deliveries", "800", "--calls", "100", "--idle-sessions", "10",
                         "--latency-subscribers", "4", "--latency-rate", "400", "--latency-seconds", "1",
                         "--workers", "2", timeout=240)


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
    floor = data["results"]["kernel_floor"]
    assert floor["sockets"] == 500 and all(floor[f"cpu_us_per_frame_{k}"] > 0 for k in (1, 4, 10))
    assert "wampchat fan-out against the floor" in stdout


@pytest.fixture(scope="module")
def chat_results(tmp_path_factory):
    """The chat and cluster suites once, tiny: a private PostgreSQL and RabbitMQ, 1-3 nodes, a few dozen sends."""
    if not postgres_available() or not os.path.exists(RABBITMQ_SERVER):
        pytest.skip("the chat and cluster benchmarks need PostgreSQL 15 and rabbitmq-server: `make test` "
                    "installs them (Debian packages postgresql, rabbitmq-server)")
    out = tmp_path_factory.mktemp("bench-chat") / "results.json"
    # the baseline rows run this very commit (exported with git archive) where this is a git checkout
    baselines = "sqlite=HEAD,postgresql=HEAD" if IN_GIT else ""
    return run_benchmark(out, "--quick", "--suites", "chat,cluster", "--no-chat-crossbar", "--chat-sends", "40",
                         "--chat-subscribers", "4", "--cluster-subscribers", "4", "--cluster-deliveries", "400",
                         "--chat-baselines", baselines, "--workers", "2", timeout=300)


@pytest.mark.rabbitmq
@pytest.mark.timeout(400)
def test_the_send_path_and_the_cluster_give_every_figure(chat_results):
    """Every send is accepted and delivered on SQLite, PostgreSQL, 1, 2 and 3 nodes; rates, latencies, CPU per
    send and the group-commit size come out finite and positive, and the tables print them."""
    data, stdout = chat_results
    assert data["notes"] == [], data["notes"]
    chat = data["results"]["chat"]
    sends = [chat[store] for store in ("sqlite", "postgresql")]
    sends += [data["results"]["cluster"][f"send_{n}"] for n in (1, 2, 3)]
    sends += [chat["ceiling"]] + ([chat["baseline_sqlite"], chat["baseline_postgresql"]] if IN_GIT else [])
    for m in sends:
        assert m["sent"] == m["expected_sent"] == 40
        assert m["delivered"] == m["expected"] == 40 * 4
        assert m["sends_per_s"] > 0 and 0 < m["p50_ms"] <= m["p99_ms"] < 10_000
        assert m["batches"] > 0 and 1 <= m["batch_mean"] <= 10  # 10 senders, one send outstanding each
        assert all(math.isfinite(v) and v >= 0 for v in m["cpu_us_per_send"].values())
        assert m["cpu_us_per_send"]["node a"] > 0
    assert sends[1]["cpu_us_per_send"]["postgres"] > 0  # the database server's own CPU is read too
    assert "sends not stored (ceiling)" in stdout                 # the ceiling's row, with or without git
    assert IN_GIT == ("HEAD (baseline), PostgreSQL (fsync on)" in stdout) == ("sends/s against the baseline" in stdout) \
        == ("ceiling (sends not stored)" in stdout)               # the ratio line needs a baseline to divide by
    assert set(sends[3]["cpu_us_per_event"]) == {"node a", "node b", "rabbitmq", "postgres"}
    for key in ("rpc_same_node", "rpc_cross_node"):   # a call to another node's callee against a local one
        rpc = data["results"]["cluster"][key]
        assert rpc["calls"] == 500 and rpc["calls_per_s"] > 0 and 0 < rpc["p50_ms"] <= rpc["p99_ms"]
    assert "callee on node 1, caller on node 2" in stdout
    assert set(sends[4]["cpu_us_per_event"]) == {"node a", "node b", "node c", "rabbitmq", "postgres"}
    for n in (1, 2, 3):
        fanout = data["results"]["cluster"][f"fanout_{n}"]
        assert fanout["nodes"] == n and fanout["delivered"] == fanout["expected"] == 4 * fanout["published"] > 0
        assert fanout["events_per_s"] > 0 and fanout["cpu_us_per_event"]["node a"] > 0
    assert "wampchat, PostgreSQL (fsync on)" in stdout and "chat send, 10 senders, 4 subs split" in stdout
    assert "vs 1 node" in stdout


@pytest.fixture(scope="module")
def scale_amqp_results(tmp_path_factory):
    """The scale and amqp suites once, tiny: 200 raw idle sessions, a few hundred AMQP messages and 20 calls."""
    if not os.path.exists(RABBITMQ_SERVER):
        pytest.skip("the amqp benchmark needs rabbitmq-server: `make test` installs it (Debian package "
                    "rabbitmq-server)")
    out = tmp_path_factory.mktemp("bench-scale-amqp") / "results.json"
    return run_benchmark(out, "--quick", "--suites", "scale,amqp", "--only", "wampchat", "--scale-sessions", "200",
                         "--amqp-publications", "300", "--amqp-deliveries", "300", "--amqp-calls", "20",
                         "--workers", "2", timeout=240)


@pytest.mark.rabbitmq
@pytest.mark.timeout(300)
def test_scale_and_bridge_suites_give_every_figure(scale_amqp_results):
    """Every idle session joins and costs a finite amount of memory; every mirrored publication is confirmed,
    every inbound message delivered and every AMQP call answered, with rates, latency and CPU that are positive."""
    data, stdout = scale_amqp_results
    assert data["notes"] == [], data["notes"]
    scale = data["results"]["scale"]["wampchat"]
    assert scale["joined"] == scale["sessions"] == 200 and scale["failed"] == 0
    assert math.isfinite(scale["kb_per_session"]) and scale["joins_per_s"] > 0 and scale["cpu_us_per_join"] > 0
    amqp = data["results"]["amqp"]
    for row in ("mirror", "mirror_subscribed"):
        assert amqp[row]["confirmed"] == amqp[row]["published"] == 300 and amqp[row]["dropped"] == 0, row
    assert amqp["raw"]["confirmed"] == 300
    assert amqp["inbound"]["received"] == amqp["inbound"]["published"] == 300
    assert amqp["rpc"]["calls"] == amqp["rpc"]["expected"] == 20
    assert 0 < amqp["rpc"]["p50_ms"] <= amqp["rpc"]["p99_ms"] < 10_000
    # Where the kernel has no schedstat, CPU comes in 10 ms ticks: a process off the path (the node while raw
    # txamqp publishes) or one that does little (the broker, ~20 us a message) may read 0 over a few hundred
    # messages. The process that does the work reads more than 0.
    for row, worker in (("mirror", "node"), ("mirror_subscribed", "node"), ("raw", "publisher"), ("inbound", "node")):
        cpu = amqp[row]["cpu_us_per_message"]
        assert all(math.isfinite(v) and v >= 0 for v in cpu.values()) and cpu[worker] > 0, (row, cpu)
    assert "mirror / raw" in stdout and "mirror (topic subscribed on the node) / raw" in stdout and "idle sessions (raw WebSocket, json)" in stdout


@pytest.mark.timeout(180)
def test_send_batch_times_each_store_and_the_relayed_connection():
    """``benchmarks/send_batch.py`` with a few batches: a time for SQLite, PostgreSQL straight and through
    the relay (which must pass every byte both ways, or the batches would fail)."""
    if not postgres_available():
        pytest.skip("PostgreSQL 15 server binaries are not installed: `make test` installs them")
    proc = subprocess.run([sys.executable, "benchmarks/send_batch.py", "--batches", "5", "--delays", "0,0.0001",
                           "--rate"], cwd=ROOT, capture_output=True, text=True, timeout=150,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    times = {line.rsplit(None, 2)[0].strip(): float(line.split()[-2]) for line in proc.stdout.splitlines()
             if line.endswith(" ms")}
    assert set(times) == {"SQLite (synchronous=FULL)", "PostgreSQL on 127.0.0.1", "PostgreSQL, 100 us per hop"}
    assert all(0 < t < 10_000 for t in times.values()), times


@pytest.mark.skipif(GIT is None, reason="needs git to build a repository to export from (apt-get install git)")
def test_a_baseline_that_cannot_be_exported_is_a_note_and_its_row_is_left_out(tmp_path):
    """An unknown commit (or no git history) costs the baseline row, never the run: the other rows still
    come, and only a commit that has the store is run on it."""
    from types import SimpleNamespace

    from benchmarks import chat

    repo = tmp_path / "repo"
    (repo / "wampchat" / "storage").mkdir(parents=True)
    (repo / "wampchat" / "storage" / "__init__.py").write_text("")
    git = [GIT, "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "a commit with a storage package"], check=True)
    s = SimpleNamespace(chat_stores=["sqlite", "postgresql"], chat_ceiling=True, chat_crossbar=False,
                        chat_baselines={"sqlite": "no-such-revision-here", "postgresql": "HEAD"})
    notes = []
    sources = chat.export_baselines(s, str(tmp_path / "out"), notes, repo)
    assert list(sources) == ["postgresql"] and (Path(sources["postgresql"]) / "wampchat" / "storage").is_dir()
    assert len(notes) == 1 and "no revision no-such-revision-here" in notes[0]
    assert [x.key for x in chat.chat_setups(s, sources)] == ["sqlite", "ceiling", "baseline_postgresql",
                                                              "postgresql"]
