"""WAMP IDs: random global-scope IDs and sequential session-scope ones."""
import os
import random

MAX_ID = 2**53

_random = random.SystemRandom()
_fast = random.Random(os.urandom(32))


def global_id():
    """A random ID in [1, 2**53], as the spec asks for session and subscription IDs (from the OS's generator:
    nobody can work out another session's ID from the ones they see)."""
    return _random.getrandbits(53) + 1


def publication_id():
    """A random publication ID in [1, 2**53]. One per event, so from a fast generator seeded by the OS:
    a publication ID identifies an event, it grants nothing."""
    return _fast.getrandbits(53) + 1


class SequentialIds:
    """Session-scope request IDs: 1, 2, 3, ... wrapping at 2**53."""

    __slots__ = ("_next",)

    def __init__(self):
        self._next = 0

    def next(self):
        self._next = self._next + 1 if self._next < MAX_ID else 1
        return self._next
