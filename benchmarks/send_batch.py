"""
``python benchmarks/send_batch.py``: one send batch's transaction, timed on its own, on both stores.

It runs :func:`wampchat.storage.chat.sends.add_messages` for batches of 5 messages
into one room (5 authors, the group commit's typical batch under the chat
suite's load), each committed (fsync on both stores), and prints the mean
wall time per batch. With ``--delays`` the PostgreSQL connection goes
through a local TCP relay that holds every chunk for that long in each
direction: a database on another machine, where each network round trip
costs what it costs in a real deployment (the chat suite's PostgreSQL is on
127.0.0.1, where a round trip is nearly free). ``PYTHONPATH=<checkout>``
times another commit's code with the same script.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

BATCH = 5


def start_relay(target_port, delay):
    """A child process relaying a 127.0.0.1 port to ``target_port`` (so its busy waits take no time from
    the timed code's interpreter); (process, port)."""
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--relay-to", str(target_port),
                              "--relay-delay", str(delay)], stdout=subprocess.PIPE, text=True)
    return child, int(child.stdout.readline())


def relay(target_port, delay):
    """Forward a 127.0.0.1 port to ``target_port``, holding each chunk ``delay`` seconds per direction."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                until = time.perf_counter() + delay
                while time.perf_counter() < until:   # sleep() is far coarser than a LAN round trip
                    pass
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def accept():
        while True:
            client, _ = listener.accept()
            upstream = socket.create_connection(("127.0.0.1", target_port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    print(listener.getsockname()[1], flush=True)
    accept()


def time_batches(db, batches, rate):
    """Mean ms per committed batch of :data:`BATCH` sends on the store ``db``."""
    from wampchat.storage.chat.sends import SendRate, SendRequest, add_messages
    from wampchat.storage import prepare_database, run_sync

    engine = prepare_database(db)
    conn = engine.connect()
    try:
        run_sync(engine, conn, lambda tx: tx.execute(
            "INSERT INTO rooms (id, title, private, owner, created) VALUES ('bench', 'Bench', ?, NULL, 0)",
            (False,)))
        limit = SendRate(1_000_000, 10_000) if rate else None
        ts = int(time.time() * 1000)
        deadline = time.monotonic() + 60
        started = time.perf_counter()
        done = 0
        while done < batches and time.monotonic() < deadline:
            requests = [SendRequest("bench", f"user{i}", f"User {i}", f"message {done}.{i} for @user{(i + 1) % BATCH}",
                                    ts + done) for i in range(BATCH)]
            run_sync(engine, conn, add_messages, requests, limit)
            done += 1
        return (time.perf_counter() - started) / done * 1000
    finally:
        conn.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--batches", type=int, default=500)
    p.add_argument("--delays", default="0,0.0001,0.0003",
                   help="seconds each relay hop holds a chunk, per direction (0: straight to PostgreSQL)")
    p.add_argument("--rate", action="store_true", help="with the cross-node send-rate count (as nodes sharing "
                                                        "PostgreSQL do)")
    p.add_argument("--relay-to", type=int, help=argparse.SUPPRESS)
    p.add_argument("--relay-delay", type=float, help=argparse.SUPPRESS)
    s = p.parse_args(argv)
    if s.relay_to:
        return relay(s.relay_to, s.relay_delay)
    from wampchat.testing_servers import PostgresServer, postgres_available

    print(f"send batches of {BATCH}, {s.batches} each, mean wall time per committed batch")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"  SQLite (synchronous=FULL)            {time_batches(os.path.join(tmp, 'b.sqlite'), s.batches, False):7.3f} ms")
    if not postgres_available():
        print("  PostgreSQL: server binaries not installed (make system-deps-test)")
        return
    server = PostgresServer(tempfile.mkdtemp(prefix="wampchat-bench-pg-"), fsync=True)
    server.start()
    try:
        server.set_up()
        for delay in [float(d) for d in s.delays.split(",") if d]:
            url = server.new_database()
            child = None
            if delay:
                port = urlsplit(url).port
                child, relayed = start_relay(port, delay)
                url = url.replace(f":{port}/", f":{relayed}/")
            label = f"PostgreSQL, {delay * 1e6:.0f} us per hop" if delay else "PostgreSQL on 127.0.0.1"
            try:
                print(f"  {label:<36} {time_batches(url, s.batches, s.rate):7.3f} ms")
            finally:
                if child is not None:
                    child.kill()
                    child.wait()
    finally:
        server.stop()
        server.remove()


if __name__ == "__main__":
    sys.exit(main())
