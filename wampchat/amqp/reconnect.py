"""
Reconnecting to the broker: Twisted's ClientService, with one log line per retry.

ClientService keeps trying with backoff but logs each retry as "Scheduling
retry ... to connect <endpoint object>", which says neither why nor what to
do. Here it is silenced, the endpoint tells the link when an attempt starts
and why it failed, and the retry policy writes the one line: the reason the
link noted, and when the next attempt is.
"""
from typing import Callable, Optional, Tuple, cast

from twisted.application.internet import ClientService, backoffPolicy
from twisted.logger import ILogObserver, Logger


class QuietClientService(ClientService):
    """ClientService without its own "Scheduling retry ... to connect <endpoint object>" line: the link
    logs one line per retry itself, with the reason and the delay (see :class:`RetryLog`)."""

    _log = Logger(observer=cast(ILogObserver, lambda event: None))


class AttemptsEndpoint:
    """Wraps the broker endpoint so the link sees each attempt start and each failure to connect."""

    def __init__(self, endpoint, link):
        self._endpoint = endpoint
        self._link = link

    def connect(self, factory):
        self._link._attempting()
        return self._endpoint.connect(factory).addErrback(self._link._unreachable)


class RetryLog:
    """ClientService's retry policy (backoff up to --amqp-retry-max) that also logs the retry: one line per
    failed attempt, saying why (as the failure's handler noted it) and when the next one is."""

    def __init__(self, log: Logger, retry_max: float, where: str, running: Callable[[], bool]):
        self._log = log
        self._where = where
        self._running = running
        self._backoff = backoffPolicy(0.5, retry_max)
        self._note: Optional[Tuple[str, str, dict]] = None  # (log level, text, fields): why the retry is needed

    def note(self, level: str, text: str, **fields) -> None:
        """Say why the next retry is needed; the retry's log line carries it."""
        self._note = (level, text, fields)

    def delay(self, attempt: int) -> float:
        delay = self._backoff(attempt)
        level, text, fields = self._note or ("warn", "AMQP broker {where}: no connection", {})
        self._note = None
        if self._running():
            getattr(self._log, level)(text + "; retrying in {retry_in:.1f} s", where=self._where, retry_in=delay,
                                      attempt=attempt, **fields)
        return delay
