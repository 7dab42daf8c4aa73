"""One warning per outage, not one per request: a reconnect storm while a database is away must not flood
the log, yet the operator must see that it is happening and when it ends."""
from typing import Optional

from twisted.logger import Logger

from wampchat.clock import Clock

REPEAT_AFTER = 60.0   # seconds between the reminders of an outage that goes on


class OutageNotice:
    """Logs the first refusal of an outage, then at most one reminder a minute with the count, and the end."""

    log = Logger()

    def __init__(self, clock: Clock, what: str, repeat_after: float = REPEAT_AFTER) -> None:
        self._clock = clock
        self._what = what
        self._repeat_after = repeat_after
        self._since: Optional[float] = None
        self._last_logged = 0.0
        self._refused = 0

    def refused(self, reason: object) -> None:
        """A request was refused because ``what`` is unavailable (``reason`` says why)."""
        now = self._clock.seconds()
        self._refused += 1
        if self._since is None:
            self._since, self._last_logged, self._refused = now, now, 1
            self.log.warn("{what} unavailable, refusing with wampchat.error.unavailable until it is back: {reason}",
                          what=self._what, reason=reason)
        elif now - self._last_logged >= self._repeat_after:
            self._last_logged = now
            self.log.warn("{what} still unavailable after {seconds:.0f} s ({refused} refused): {reason}",
                          what=self._what, seconds=now - self._since, refused=self._refused, reason=reason)

    def recovered(self) -> None:
        """A request went through: if an outage was on, say it ended."""
        if self._since is not None:
            self.log.info("{what} available again after {seconds:.0f} s ({refused} refused meanwhile)",
                          what=self._what, seconds=self._clock.seconds() - self._since, refused=self._refused)
            self._since = None
