"""Typing states that end by themselves: a client that stops saying it types (or vanishes) stops typing."""


class TypingTimers:
    """A typing state per (room, user) that ends by itself after ``timeout`` seconds."""

    def __init__(self, clock, timeout, on_expire):
        self._clock = clock
        self._timeout = timeout
        self._on_expire = on_expire
        self._timers = {}

    def start(self, room_id, user, nick):
        key = (room_id, user)
        timer = self._timers.get(key)
        if timer is not None and timer.active():
            timer.reset(self._timeout)
        else:
            self._timers[key] = self._clock.callLater(self._timeout, self._expire, room_id, user, nick)

    def stop(self, room_id, user):
        """Cancel a typing state; True if there was one."""
        timer = self._timers.pop((room_id, user), None)
        if timer is not None and timer.active():
            timer.cancel()
            return True
        return False

    def _expire(self, room_id, user, nick):
        self._timers.pop((room_id, user), None)
        self._on_expire(room_id, user, nick)

    def stop_user(self, user):
        """Cancel every typing state of ``user``; the rooms where one was running."""
        rooms = [room_id for (room_id, who) in self._timers if who == user]
        return [room_id for room_id in rooms if self.stop(room_id, user)]

    def stop_all(self):
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()
