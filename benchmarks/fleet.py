"""
The worker processes of one measurement (:class:`Fleet`), and what every measurement reports with.

A Fleet spawns ``benchmarks.load`` workers with the ``spawn`` start method
(a fresh interpreter each: no reactor state is inherited), hands them one
queue and two events, and kills whatever is left on exit.
"""
import multiprocessing
import queue as queue_module
import time

from benchmarks import load


class BenchError(Exception):
    """A measurement could not finish (a worker failed or a deadline passed)."""


class Fleet:
    """The worker processes of one measurement; whatever is left is killed on exit."""

    def __init__(self, url, serializer, settings):
        self.ctx = multiprocessing.get_context("spawn")
        self.queue = self.ctx.Queue()
        self.go = self.ctx.Event()
        self.stop = self.ctx.Event()
        self.again = self.ctx.Event()  # scale: the router restarted, reconnect (workers that take ``again``)
        self.procs = {}
        self.specs = {}
        self._later = []  # reports read while waiting for other workers, kept for the wait that wants them
        self.base = {"url": url, "serializer": serializer, "connect_timeout": settings.connect_timeout,
                     "run_timeout": settings.run_timeout,
                     "lifetime": settings.connect_timeout * 4 + settings.run_timeout + 60}

    def spawn(self, role, **spec):
        worker_id = len(self.procs)
        self.specs[worker_id] = dict(self.base, **spec)
        proc = self.ctx.Process(target=load.worker_main, daemon=True,
                                args=(role, self.specs[worker_id], worker_id, self.queue, self.go, self.stop))
        proc.start()
        self.procs[worker_id] = proc
        return worker_id

    def spread(self, role, sessions, workers, **spec):
        """``sessions`` sessions of ``role`` over up to ``workers`` processes, their starts staggered."""
        workers = max(1, min(workers, sessions))
        share = [sessions // workers + (1 if i < sessions % workers else 0) for i in range(workers)]
        return [self.spawn(role, sessions=n, delay=i * 0.1, **spec) for i, n in enumerate(share)]

    def wait(self, kind, ids, timeout):
        """Block until every worker in ``ids`` reported ``kind``; their payloads by id."""
        got = {}
        wanted = set(ids)
        for report in [r for r in self._later if r[0] == kind and r[1] in wanted]:
            self._later.remove(report)
            got[report[1]] = report[2]
        deadline = time.monotonic() + timeout
        while len(got) < len(ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{len(ids) - len(got)} of {len(ids)} workers not {kind} after {timeout:.0f}s")
            try:
                what, worker_id, payload = self.queue.get(timeout=min(remaining, 1.0))
            except queue_module.Empty:
                dead = [i for i in ids if i not in got and not self.procs[i].is_alive()]
                if dead:
                    raise BenchError(f"worker(s) {dead} exited before reporting {kind}")
                continue
            if what == "error":
                raise BenchError(f"worker {worker_id}: {payload}")
            if what == kind and worker_id in wanted:
                got[worker_id] = payload
            else:
                self._later.append((what, worker_id, payload))  # e.g. a subscriber done before the publisher
        return got

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        self.queue.close()
        return False


def percentile(ordered, p):
    """The ``p``-th percentile of an ascending sequence (nearest rank), or None when it is empty."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
