"""Who is online on this node: each user's sessions here, the nick each shows, and the nicks logins bring."""
from collections import OrderedDict
from typing import Dict, Optional, Set

from wampchat.names import name_skeleton

# logins between the join hook and the join, at most; a login refused after the hook never claims its nick
EXPECTED_NICKS_KEPT = 10000


class NodeSessions:
    """Online sessions per user on this node: a user goes offline here only when the last session leaves."""

    def __init__(self) -> None:
        self._sessions: Dict[str, Set[int]] = {}   # authid -> set of session ids
        self._owner: Dict[int, tuple] = {}      # session id -> (authid, role, nick)
        self._joined_at: Dict[int, int] = {}  # session id -> when it joined (ms, the node's clock)
        self._shown: Dict[str, Dict[str, int]] = {}      # name_skeleton(nick) -> {authid: sessions showing it}, for O(1) uniqueness checks
        self._expected: "OrderedDict[int, str]" = OrderedDict()  # session id -> nick, from the join hook

    def expect_nick(self, session_id: int, nick: str) -> None:
        """The nick an account's session will show once it joins (its display name, read in the join hook)."""
        self._expected[session_id] = nick
        if len(self._expected) > EXPECTED_NICKS_KEPT:
            self._expected.popitem(last=False)

    def expected_nick(self, session_id: int) -> Optional[str]:
        """The nick :meth:`expect_nick` kept for this session (once), or None."""
        return self._expected.pop(session_id, None)

    def joined(self, session_id, authid, role, nick, at: int = 0):
        """Record a session (joined at ``at`` ms); True when it is the user's first (the user came online)."""
        self._owner[session_id] = (authid, role, nick)
        self._joined_at[session_id] = at
        shown = self._shown.setdefault(name_skeleton(nick), {})
        shown[authid] = shown.get(authid, 0) + 1
        sessions = self._sessions.setdefault(authid, set())
        sessions.add(session_id)
        return len(sessions) == 1

    def left(self, session_id):
        """Forget a session; returns (authid, role, nick, went_offline) or None if unknown."""
        owner = self._owner.pop(session_id, None)
        if owner is None:
            return None
        self._joined_at.pop(session_id, None)
        authid, role, nick = owner
        self._forget_shown(nick, authid)
        sessions = self._sessions.get(authid, set())
        sessions.discard(session_id)
        if not sessions:
            self._sessions.pop(authid, None)
        return authid, role, nick, not sessions

    def joined_at(self, session_id) -> Optional[int]:
        """When the session joined (ms), or None for a session not known here."""
        return self._joined_at.get(session_id)

    def is_online(self, authid):
        return authid in self._sessions

    def session(self, session_id):
        return self._owner.get(session_id)

    def nick_of(self, authid):
        """The nick an online user shows, or None."""
        for session_id in self._sessions.get(authid, ()):
            return self._owner[session_id][2]
        return None

    def session_ids(self, authid) -> list:
        """The ids of ``authid``'s sessions on this node."""
        return sorted(self._sessions.get(authid, ()))

    def rename(self, authid, nick) -> None:
        """``authid``'s sessions here show ``nick`` from now on (chat.user.update, a deleted account)."""
        for session_id in self.session_ids(authid):
            old_authid, role, old_nick = self._owner[session_id]
            self._forget_shown(old_nick, authid)
            self._owner[session_id] = (authid, role, nick)
            shown = self._shown.setdefault(name_skeleton(nick), {})
            shown[authid] = shown.get(authid, 0) + 1

    def _forget_shown(self, nick, authid) -> None:
        key = name_skeleton(nick)
        shown = self._shown[key]
        shown[authid] -= 1
        if not shown[authid]:
            del shown[authid]
            if not shown:
                del self._shown[key]

    def nick_taken(self, nick, by_other_than):
        """Is ``nick``, or a name that looks like it (same :func:`~wampchat.names.name_skeleton`), shown for an
        online user other than ``by_other_than``?"""
        return any(authid != by_other_than for authid in self._shown.get(name_skeleton(nick), ()))
