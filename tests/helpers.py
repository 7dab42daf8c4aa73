"""Small waiting helpers for tests: Deferreds that fire on events, polling with a deadline, HTTP bodies."""
import inspect

from twisted.internet import defer, protocol, task
from twisted.web.client import PartialDownloadError, ResponseDone
from twisted.web.http import PotentialDataLoss


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


class _BodyReader(protocol.Protocol):
    """Collects a response body into ``done``, as ``twisted.web.client.readBody`` does."""

    def __init__(self, response, done: defer.Deferred) -> None:
        self._response = response
        self._done = done
        self._chunks: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._chunks.append(data)

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        if self._done.called:  # cancelled
            return
        body = b"".join(self._chunks)
        if reason.check(ResponseDone):
            self._done.callback(body)
        elif reason.check(PotentialDataLoss):
            self._done.errback(PartialDownloadError(self._response.code, self._response.phrase, body))
        else:
            self._done.errback(reason)


def read_body(response) -> defer.Deferred:
    """Deferred of the whole body of an Agent ``response``.

    Twisted's ``readBody`` warns (DeprecationWarning) when the response's
    transport has no ``abortConnection``, and Agent's own transport proxy has
    only ``loseConnection``: so this reads the body itself, and cancelling it
    stops the transport with what that proxy offers.
    """
    reader = None

    def cancel(_: defer.Deferred) -> None:
        if reader is not None and reader.transport is not None:
            reader.transport.stopProducing()

    done = defer.Deferred(cancel)
    reader = _BodyReader(response, done)
    response.deliverBody(reader)
    return done
