"""WAMP IDs: random global-scope IDs and sequential session-scope ones."""
import random

MAX_ID = 2**53

_random = random.SystemRandom()


def global_id():
    """A random ID in [1, 2**53], as the spec asks for session and publication IDs."""
    return _random.randint(1, MAX_ID)


class SequentialIds:
    """Session-scope request IDs: 1, 2, 3, ... wrapping at 2**53."""

    __slots__ = ("_next",)

    def __init__(self):
        self._next = 0

    def next(self):
        self._next = self._next + 1 if self._next < MAX_ID else 1
        return self._next
