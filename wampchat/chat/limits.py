"""Rate limits that hold whatever the client does: per user or per address, never per session.

A window is kept by its key (a username, a client address) and lives until
it has nothing left to count, not until the key's sessions leave, so
reconnecting buys nothing. Memory stays bounded: keys whose window emptied
are dropped in a sweep once per window, and past ``max_keys`` the least
recently used key goes first.
"""
from collections import OrderedDict, deque
from typing import Hashable, Optional

from wampchat.clock import Clock

MAX_KEYS = 100_000


class RateWindow:
    """At most ``count`` events per ``window`` seconds per key (a sliding window of event times)."""

    def __init__(self, clock: Clock, count: int, window: float, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self.count = count
        self.window = window
        self._max_keys = max_keys
        self._events: "OrderedDict[Hashable, deque]" = OrderedDict()
        self._next_sweep = clock.seconds() + window

    def allow(self, key: Hashable) -> bool:
        """Count one event for ``key``; False (and nothing counted) when the key is at its limit."""
        now = self._clock.seconds()
        if now >= self._next_sweep:
            self._sweep(now)
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            if len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
            _expire(events, now - self.window)
        if len(events) >= self.count:
            return False
        events.append(now)
        return True

    def retry_after(self, key: Hashable) -> Optional[float]:
        """Seconds until ``key`` may act again (0 when it may now)."""
        events = self._events.get(key)
        if not events or len(events) < self.count:
            return 0.0
        return max(0.0, events[-self.count] + self.window - self._clock.seconds())

    def __len__(self) -> int:
        return len(self._events)

    def _sweep(self, now: float) -> None:
        horizon = now - self.window
        for key in [key for key, events in self._events.items() if not events or events[-1] <= horizon]:
            del self._events[key]
        self._next_sweep = now + self.window


def _expire(events: deque, horizon: float) -> None:
    while events and events[0] <= horizon:
        events.popleft()
