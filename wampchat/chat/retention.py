"""
Message retention (API §8): every hour one node of the cluster deletes the messages older than their room
keeps them, with their mentions, reactions and search rows.

Each run first takes the lease ``retention`` for one interval: the node
that ran last keeps it, and another takes over only once it has run out
(that node stopped or lost the database), so a cluster deletes once per
interval, not once per node. The deletion itself is
:mod:`wampchat.storage.chat.retention`, a bounded batch per transaction, so
sends go on between batches however large the backlog.
"""
from typing import Any, Optional

from twisted.internet import defer, task
from twisted.logger import Logger

from wampchat.storage import StoreError

LEASE = "retention"
INTERVAL = 3600.0      # seconds between runs
FIRST_RUN = 60.0       # seconds after start: the node has settled, and a restart loop deletes nothing twice a minute
BATCH = 1000           # messages deleted per transaction


class RetentionRun:
    """What one run did: ``deleted`` messages in ``batches`` transactions."""

    __slots__ = ("deleted", "batches")

    def __init__(self) -> None:
        self.deleted = 0
        self.batches = 0


class RetentionJob:
    """Runs retention on ``clock`` every ``interval`` seconds while started; :meth:`run_once` is one run."""

    log = Logger()

    def __init__(self, store, default_days: int, holder: str, clock, interval: float = INTERVAL,
                 first_run: float = FIRST_RUN, batch: int = BATCH) -> None:
        self._store = store
        self.default_days = default_days
        self.holder = holder          # this node's id: a restarted node keeps its own lease
        self._clock = clock
        self.interval = interval
        self.first_run = first_run
        self.batch = batch
        self._loop: Optional[task.LoopingCall] = None
        self._first: Optional[Any] = None   # the IDelayedCall of the first run
        self._stopped = False
        self._current: Optional[defer.Deferred] = None   # the run under way, waited for on stop

    def start(self) -> None:
        """Run ``first_run`` seconds from now, then every ``interval`` seconds."""
        loop = self._loop = task.LoopingCall(self._tick)
        loop.clock = self._clock
        self._first = self._clock.callLater(self.first_run, self._begin)

    def _begin(self) -> None:
        assert self._loop is not None  # made by start(), which scheduled this
        self._loop.start(self.interval, now=True).addErrback(
            lambda f: self.log.failure("retention stopped: a run failed", f))

    async def stop(self) -> None:
        """No more runs; waits for a run under way to finish its batch."""
        self._stopped = True
        if self._first is not None and self._first.active():
            self._first.cancel()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._current is not None:
            await self._current

    def _tick(self) -> defer.Deferred:
        """One scheduled run; a database that is away is logged and tried again next time."""
        current = self._current = defer.ensureDeferred(self.run_once())
        current.addErrback(self._failed)
        current.addBoth(self._done)
        return current

    def _failed(self, failure) -> None:
        failure.trap(StoreError)
        self.log.warn("retention: not run now ({e}); next try in {s:.0f} s", e=failure.value, s=self.interval)

    def _done(self, result):
        self._current = None
        return result

    async def run_once(self, now_ms: int | None = None) -> RetentionRun | None:
        """Take the lease and delete what has expired at ``now_ms`` (default: the clock's now).

        Returns what was done, or None when another node holds the lease.
        """
        if now_ms is None:
            now_ms = int(self._clock.seconds() * 1000)
        if not await self._store.take_lease(LEASE, self.holder, now_ms, int(self.interval * 1000)):
            return None
        run, room = RetentionRun(), ""
        while room is not None and not self._stopped:
            deleted, room = await self._store.delete_expired(self.default_days, now_ms, self.batch, room)
            run.deleted += deleted
            run.batches += 1
        if run.deleted:
            self.log.info("retention: deleted {n} messages past their rooms' retention in {b} batches",
                          n=run.deleted, b=run.batches)
        return run
