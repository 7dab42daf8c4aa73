"""
Group commit: work queued while a transaction commits goes into the next one, together.

One commit (one fsync) then serves everything that arrived meanwhile. The
send path (:mod:`wampchat.storage.chat.sends`) and presence
(:mod:`wampchat.chat.cluster_presence`) use it; each item is still committed before
whoever submitted it hears of it.

The database thread takes the next batch itself, as soon as a commit is
done, and only hands the answers to the reactor. A batch no longer waits
for the reactor to notice the last commit (a thread hop, and a turn of
whatever the reactor was busy with) before it can start: under load the
database commits back to back while the reactor answers.
"""
import threading
from collections import deque

from twisted.internet import defer
from twisted.python.failure import Failure


class GroupCommit:
    """Runs ``fn(tx, batch, *args)`` in one transaction per batch of submitted items, one batch at a time.

    ``fn`` returns one result per item, in order. Items are answered on the
    reactor in submission order. A failed batch fails every item of it with
    the same error; the next batch is tried anyway (the database may be
    back). Each batch is queued behind the database's other work, so reads
    are not starved by a steady stream of sends.
    """

    def __init__(self, database, fn, *args, max_batch=500, on_batch=None, on_failure=None):
        self._database = database
        self._fn = fn
        self._args = args
        self._max_batch = max_batch
        self._on_batch = on_batch        # on_batch(size), on the reactor, for each batch answered
        self._on_failure = on_failure    # on_failure(), on the database thread, for each batch that failed
        self._lock = threading.Lock()    # the queue and _draining, shared with the database thread
        self._queue = deque()
        self._draining = False           # a batch is queued for, or running on, the database thread
        self.batches = 0
        self.items = 0

    def submit(self, item):
        """Deferred of ``item``'s result, once its batch committed."""
        d = defer.Deferred()
        with self._lock:
            self._queue.append((item, d))
            if self._draining:
                return d
            self._draining = True
        self._database.in_thread(self._commit_next)
        return d

    # -- on the database thread -------------------------------------------------
    def _commit_next(self):
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
        try:
            outcome = self._database.transact(self._fn, [item for item, _ in batch], *self._args)
        except Exception:
            outcome = Failure()
            if self._on_failure is not None:
                self._on_failure()
        # answers reach the reactor in the order batches committed: callFromThread keeps its order
        self._database.call_from_thread(self._answer, batch, outcome)
        with self._lock:
            if not self._queue:
                self._draining = False
                return
        self._database.in_thread(self._commit_next)

    # -- on the reactor ------------------------------------------------------------
    def _answer(self, batch, outcome):
        self.batches += 1
        self.items += len(batch)
        if self._on_batch is not None:
            self._on_batch(len(batch))
        if isinstance(outcome, Failure):
            for _, d in batch:
                d.errback(outcome)
        else:
            for (_, d), result in zip(batch, outcome):
                d.callback(result)
