"""
Connection scale: tens of thousands of idle WebSocket sessions joined to one router.

A chat server spends most of its life holding sessions that do nothing, so
what an idle session costs the router (RSS read from /proc of the router
process, nothing else) and how fast a crowd can join (a reconnect storm
after a restart) matter more than any burst figure. The clients are raw
sockets speaking just enough WebSocket and WAMP (``load.RawWampSession``),
in worker processes, bound to several 127.0.0.x source addresses so the
count is not capped by the ephemeral ports of one address.

wampchat is started (as in every suite) with ``--max-connections-per-address 0``.
"""
import math
import time

from benchmarks import routers
from benchmarks.fleet import BenchError, Fleet

PER_ADDRESS = 5000      # sessions per source address (each address has ~28,000 ephemeral ports)
RESERVED_FDS = 128      # descriptors the router needs besides its sessions (listeners, log, database, epoll)
RECONNECT_TIMEOUT = 60  # seconds the clients keep reconnecting after a restart (the target is all in 15)


def session_count(wanted, nofile):
    """``wanted``, or fewer when the router's open-files limit cannot hold that many sockets."""
    return max(1, min(wanted, nofile - RESERVED_FDS))


def settled_rss(router, timeout=10.0, interval=0.5):
    """The router's RSS once two readings ``interval`` apart differ by under 0.5% (or at ``timeout``).

    Joins that the clients have seen answered may still leave work behind
    (meta events, the chat service's presence), so one reading right after
    the last WELCOME can be low.
    """
    deadline = time.monotonic() + timeout
    last = router.rss_bytes()
    while time.monotonic() < deadline:
        time.sleep(interval)  # sampling a process's memory at a fixed interval, bounded by the deadline
        now = router.rss_bytes()
        if abs(now - last) < 0.005 * last:
            return now
        last = now
    return last


def shares(total, parts):
    """``total`` split into ``parts`` near-equal whole shares (the first ones one larger)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def measure_scale(router, sessions, s, restart=None):
    """Join ``sessions`` idle sessions to ``router``, ``s.scale_inflight`` joins in flight in all; router RSS
    per session, joins per second and CPU per join.

    With ``restart`` (a function that stops the router and starts it again on the same port and database,
    returning the new one), every client then reconnects at once: how long until all are joined again
    (``restart`` is called with the router, and the result has the new one under ``router``).
    """
    sources = [f"127.0.0.{2 + i}" for i in range(max(1, math.ceil(sessions / PER_ADDRESS)))]
    workers = max(1, min(s.workers, sessions, s.scale_inflight))
    timeout = s.scale_timeout
    with Fleet(router.url, "json", s) as fleet:
        fleet.base["lifetime"] = s.connect_timeout * 4 + 2 * timeout + 180
        if restart is not None:
            fleet.base["again"] = fleet.again  # the workers reconnect when it is set
            fleet.base["rejoin_timeout"] = RECONNECT_TIMEOUT
        ids = [fleet.spawn("scale", sessions=n, delay=i * 0.1, sources=sources, inflight=max(1, inflight))
               for i, (n, inflight) in enumerate(zip(shares(sessions, workers), shares(s.scale_inflight, workers)))]
        ids_ready = fleet.wait("ready", ids, s.connect_timeout * 4)
        before = settled_rss(router)
        cpu0 = router.cpu_seconds()
        fleet.go.set()
        done = fleet.wait("done", list(ids_ready), timeout + 30)
        cpu_joined = router.cpu_seconds()
        after = settled_rss(router)
        if not router.alive():
            raise BenchError(f"the router died with sessions open; log tail: {routers.tail(router.log_path)}")
        result = join_figures(done, sessions, len(sources))
        result.update({"rss_before_kb": before / 1024, "rss_after_kb": after / 1024,
                       "kb_per_session": (after - before) / 1024 / result["joined"],
                       "cpu_us_per_join": (cpu_joined - cpu0) * 1e6 / result["joined"]})
        if restart is not None:
            result["restart"] = measure_reconnect(fleet, router, restart, list(ids_ready), RECONNECT_TIMEOUT)
            router = result["restart"].pop("router")
    return result, router


def join_figures(done, sessions, sources):
    """How many joined, how many failed, and joins per second from the first connect to the last WELCOME."""
    joined = sum(r["joined"] for r in done.values())
    failures = sum(r["failures"] for r in done.values())
    if joined == 0:
        raise BenchError(f"no session joined: {[r['first_failures'] for r in done.values()]}")
    started = min(r["started"] for r in done.values())
    last = max(r["last"] for r in done.values() if r["last"] is not None)
    return {"sessions": sessions, "joined": joined, "failed": failures, "sources": sources,
            "first_failures": [f for r in done.values() for f in r["first_failures"]][:3],
            "join_seconds": last - started, "joins_per_s": joined / max(1e-9, last - started)}


def measure_reconnect(fleet, router, restart, ids, timeout):
    """Restart the router (same port, same database) under its joined clients, which all reconnect at once
    when it is back: seconds from the new router's first accepted connection to the last WELCOME."""
    t_stop = time.monotonic()
    router = restart(router)
    restarted = time.monotonic()
    cpu0 = router.cpu_seconds()
    fleet.again.set()
    back = fleet.wait("rejoined", ids, timeout + 30)
    cpu = router.cpu_seconds() - cpu0
    rejoined = sum(r["rejoined"] for r in back.values())
    lasts = [r["last"] for r in back.values() if r["last"] is not None]
    return {"router": router, "restart_seconds": restarted - t_stop,
            "wanted": sum(r["wanted"] for r in back.values()), "rejoined": rejoined,
            "retries": sum(r["retries"] for r in back.values()),
            "first_failures": [f for r in back.values() for f in r["first_failures"]][:3],
            "reconnect_seconds": (max(lasts) - restarted) if lasts else None,
            "cpu_us_per_rejoin": cpu * 1e6 / max(1, rejoined)}


def restart_wampchat(workdir):
    """A function that stops a wampchat node and starts it again in ``workdir`` (same database, same port)."""
    def restart(router):
        port = int(router.url.rsplit(":", 1)[1].split("/", 1)[0])
        router.stop()
        return routers.start_wampchat(workdir, port=port)
    return restart


def bench_scale(s, names, notes, nofile, tempdir):
    """The scale measurement on each router in ``names``, each freshly started (wampchat then restarted)."""
    import tempfile

    results = {}
    for name in names:
        wanted = s.scale_sessions if name == "wampchat" else s.scale_sessions_crossbar
        sessions = session_count(wanted, nofile)
        if sessions < wanted:
            notes.append(f"scale {name}: {sessions} sessions, not {wanted}: the open-files limit here is {nofile} "
                         f"(hard), and the router needs a descriptor per session plus about {RESERVED_FDS}")
            print(notes[-1], flush=True)
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{name}-", dir=tempdir) as workdir:
            try:
                if name == "wampchat":
                    router = routers.start_wampchat(workdir)
                else:
                    routers.ensure_crossbar()
                    router = routers.start_crossbar(workdir)
            except routers.RouterUnavailable as e:
                notes.append(f"scale {name} not measured: {e}")
                print(notes[-1], flush=True)
                continue
            restart = restart_wampchat(workdir) if name == "wampchat" and s.scale_restart else None
            try:
                print(f"[scale {name}] router pid {router.pid} at {router.url}: {sessions} sessions, "
                      f"{s.scale_inflight} joins in flight", flush=True)
                m, router = measure_scale(router, sessions, s, restart)
                results[name] = m
                print(f"[scale {name}] " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                     for k, v in m.items()), flush=True)
                if m["joined"] < sessions:
                    notes.append(f"scale {name}: {m['joined']} of {sessions} sessions joined ({m['failed']} failed, "
                                 f"e.g. {m['first_failures']})")
                again = m.get("restart")
                if again and again["rejoined"] < again["wanted"]:
                    notes.append(f"scale {name}: {again['rejoined']} of {again['wanted']} sessions joined again "
                                 f"after the restart (e.g. {again['first_failures']})")
            except (BenchError, routers.RouterUnavailable) as e:
                notes.append(f"scale {name}: {e}")
                print(notes[-1], flush=True)
            finally:
                router.stop()
    return results


def scale_table(results):
    head = (f"{'idle sessions (raw WebSocket, json)':38} {'router':>9} {'sessions':>9} {'RSS/session':>12} "
            f"{'joins/s':>9} {'CPU/join':>9}")
    lines = [head, "-" * len(head)]
    for name in ("wampchat", "crossbar"):
        m = results.get(name)
        if m is None:
            continue
        lines.append(f"{'':38} {name:>9} {m['joined']:>9,} {m['kb_per_session']:>10.1f}KB {m['joins_per_s']:>9,.0f} "
                     f"{m['cpu_us_per_join']:>7,.0f}us")
    w, c = results.get("wampchat"), results.get("crossbar")
    if w and c:
        lines.append(f"{'ratio w/c':38} {'':>9} {'':>9} {w['kb_per_session'] / c['kb_per_session']:>12.2f} "
                     f"{w['joins_per_s'] / c['joins_per_s']:>9.2f} {w['cpu_us_per_join'] / c['cpu_us_per_join']:>9.2f}")
    lines.append("(router RSS growth per joined idle session, from /proc of the router process; joins/s from the "
                 "first connect to the last WELCOME, with the given number of joins in flight in all; CPU/join: "
                 "router CPU over the joins)")
    for name, m in results.items():
        again = m.get("restart")
        if again and again["reconnect_seconds"] is not None:
            lines.append(f"reconnect after a restart ({name}): {again['rejoined']:,} of {again['wanted']:,} sessions "
                         f"joined again {again['reconnect_seconds']:.1f}s after the node was back "
                         f"({again['rejoined'] / max(1e-9, again['reconnect_seconds']):,.0f}/s, "
                         f"{again['cpu_us_per_rejoin']:,.0f}us CPU each, {again['retries']:,} retried connects; "
                         f"the restart itself took {again['restart_seconds']:.1f}s)")
    return "\n".join(lines)
