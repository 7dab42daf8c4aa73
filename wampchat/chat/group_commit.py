"""
Group commit: work queued while a transaction commits goes into the next one, together.

One commit (one fsync, one thread hop) then serves everything that arrived
meanwhile. The send path (:mod:`wampchat.chat.sends`) and presence
(:mod:`wampchat.chat.online`) use it; each item is still committed before
whoever submitted it hears of it.
"""
from collections import deque

from twisted.internet import defer


class GroupCommit:
    """Runs ``commit(batch)`` for queued items, one batch at a time, answering each item in order.

    ``commit`` returns a Deferred of one result per item. A failed batch
    fails every item of it with the same error; the next batch is tried
    anyway (the database may be back).
    """

    def __init__(self, commit, max_batch=500):
        self._commit = commit
        self._max_batch = max_batch
        self._queue = deque()
        self._busy = False
        self._finished = deque()   # committed (or failed) batches whose items are still to be answered
        self._answering = False
        self.batches = 0
        self.items = 0

    def submit(self, item):
        """Deferred of ``item``'s result, once its batch committed."""
        d = defer.Deferred()
        self._queue.append((item, d))
        if not self._busy:
            self._next()
        return d

    def _next(self):
        if not self._queue:
            self._busy = False
            return
        self._busy = True
        batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
        self.batches += 1
        self.items += len(batch)
        d = defer.maybeDeferred(self._commit, [item for item, _ in batch])
        d.addBoth(self._done, batch)

    def _done(self, results, batch):
        """A batch is over: start the next one, then answer this one's items.

        The database works on the next batch while the reactor sends these
        answers out (publishing, replying), instead of waiting for them. A
        batch that finishes while earlier answers are still being given (a
        commit that failed at once) waits its turn, so answers always come in
        submission order.
        """
        self._finished.append((results, batch))
        self._busy = False
        if self._answering:
            return
        self._answering = True
        try:
            while self._finished:
                if not self._busy:
                    self._next()
                results, batch = self._finished.popleft()
                if isinstance(results, list):
                    for (_, d), result in zip(batch, results):
                        d.callback(result)
                else:
                    for _, d in batch:
                        d.errback(results)
        finally:
            self._answering = False
