"""Who is online (per user, across their sessions) and typing timers."""

from wampchat.chat.model import name_key


class Presence:
    """Online sessions per user: a user goes offline only when the last session leaves."""

    def __init__(self):
        self._sessions = {}   # authid -> set of session ids
        self._owner = {}      # session id -> (authid, role, nick)
        self._shown = {}      # name_key(nick) -> {authid: sessions showing it}, for O(1) uniqueness checks

    def joined(self, session_id, authid, role, nick):
        """Record a session; True when it is the user's first (the user came online)."""
        self._owner[session_id] = (authid, role, nick)
        shown = self._shown.setdefault(name_key(nick), {})
        shown[authid] = shown.get(authid, 0) + 1
        sessions = self._sessions.setdefault(authid, set())
        sessions.add(session_id)
        return len(sessions) == 1

    def left(self, session_id):
        """Forget a session; returns (authid, role, nick, went_offline) or None if unknown."""
        owner = self._owner.pop(session_id, None)
        if owner is None:
            return None
        authid, role, nick = owner
        key = name_key(nick)
        shown = self._shown[key]
        shown[authid] -= 1
        if not shown[authid]:
            del shown[authid]
            if not shown:
                del self._shown[key]
        sessions = self._sessions.get(authid, set())
        sessions.discard(session_id)
        if not sessions:
            self._sessions.pop(authid, None)
        return authid, role, nick, not sessions

    def is_online(self, authid):
        return authid in self._sessions

    def session(self, session_id):
        return self._owner.get(session_id)

    def nick_of(self, authid):
        """The nick an online user shows, or None."""
        for session_id in self._sessions.get(authid, ()):
            return self._owner[session_id][2]
        return None

    def nick_taken(self, nick, by_other_than):
        """Is ``nick``, or a name that looks like it (same :func:`name_key`), shown for an online user other than
        ``by_other_than``?"""
        return any(authid != by_other_than for authid in self._shown.get(name_key(nick), ()))


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

