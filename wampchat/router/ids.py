"""WAMP IDs: random global-scope IDs and sequential session-scope ones."""
import os
import random
import struct

MAX_ID = 2**53
_BATCH = 512                                   # publication ids drawn from the OS per refill (4 KiB)
_UNPACK = struct.Struct(f"<{_BATCH}Q").unpack

_random = random.SystemRandom()
_unused: list = []                             # OS-random publication ids not handed out yet


def global_id():
    """A random ID in [1, 2**53], as the spec asks for session and subscription IDs (from the OS's generator:
    nobody can work out another session's ID from the ones they see)."""
    return _random.getrandbits(53) + 1


def publication_id() -> int:
    """A random publication ID in [1, 2**53], unpredictable like :func:`global_id` (an AMQP message id
    carries it, and an id someone can predict is one they could race), yet cheap on the hot path: the OS's
    bytes come 512 ids at a time, so one costs a list pop (about as fast as a seeded Mersenne Twister,
    whose outputs give away its state)."""
    try:
        return _unused.pop()
    except IndexError:
        _unused.extend((value >> 11) + 1 for value in _UNPACK(os.urandom(8 * _BATCH)))
        return _unused.pop()


class SequentialIds:
    """Session-scope request IDs: 1, 2, 3, ... wrapping at 2**53."""

    __slots__ = ("_next",)

    def __init__(self):
        self._next = 0

    def next(self):
        self._next = self._next + 1 if self._next < MAX_ID else 1
        return self._next
