"""Small waiting helpers for tests: Deferreds that fire on events, and polling with a deadline."""
import inspect

from twisted.internet import defer, task


def poll_until(predicate, timeout=10.0, interval=0.01, clock=None):
    """A Deferred that fires once ``predicate()`` is true, or fails after ``timeout`` seconds.

    ``predicate`` may return a Deferred or a coroutine (a query, an HTTP
    request): the next check waits until it has an answer. An exception from
    ``predicate`` (e.g. an assertion that a child process is still running)
    fails the Deferred at once, instead of leaving it unfired.
    """
    from twisted.internet import reactor

    clock = clock or reactor
    deadline = clock.seconds() + timeout
    done = defer.Deferred()

    def decide(met):
        if met:
            loop.stop()
            done.callback(True)
        elif clock.seconds() > deadline:
            loop.stop()
            done.errback(TimeoutError(f"condition not met within {timeout}s"))

    def failed(failure):
        loop.stop()
        done.errback(failure)

    def check():
        try:
            met = predicate()
        except Exception:
            loop.stop()
            done.errback()
            return None
        if inspect.isawaitable(met):
            return defer.ensureDeferred(met).addCallbacks(decide, failed)  # LoopingCall waits for it
        decide(met)
        return None

    loop = task.LoopingCall(check)
    loop.clock = clock
    loop.start(interval, now=True)
    return done


class Collector:
    """A subscription handler that records events and can wait for a count of them."""

    def __init__(self):
        self.events = []
        self._waiters = []

    def __call__(self, *args, **kwargs):
        self.events.append((args, kwargs))
        for count, d in list(self._waiters):
            if len(self.events) >= count and not d.called:
                self._waiters.remove((count, d))
                d.callback(self.events)

    def wait_for(self, count, timeout=10.0):
        from twisted.internet import reactor

        if len(self.events) >= count:
            return defer.succeed(self.events)
        d = defer.Deferred()
        self._waiters.append((count, d))
        d.addTimeout(timeout, reactor)
        return d
