"""Message ids: a room's clock hands them out so they sort in the order they were committed."""


class RoomClock:
    """A room's message clock: ids that sort in the order they were handed out.

    An id is 13 digits of milliseconds, 4 digits of sequence within that
    millisecond, then a database-wide number in base 36 that makes it unique
    across rooms. The clock's state lives in the room's row and is advanced
    inside the transaction that commits the message, with the row locked, so
    ids sort in commit order within a room whichever node sends, and a clock
    that steps back (or a node whose clock is behind) never makes an id
    smaller than the last one.
    """

    __slots__ = ("last_ms", "last_seq")

    def __init__(self, last_ms, last_seq):
        self.last_ms = last_ms
        self.last_seq = last_seq

    def next(self, now_ms, number):
        """The next id, given the sender's time and a fresh unique number."""
        if now_ms > self.last_ms:
            self.last_ms, self.last_seq = now_ms, 0
        elif self.last_seq >= 9999:
            self.last_ms, self.last_seq = self.last_ms + 1, 0
        else:
            self.last_seq += 1
        return f"{self.last_ms:013d}{self.last_seq:04d}{base36(number)}"


def base36(number):
    """``number`` (>= 0) in digits and lowercase letters."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text
