"""
Ending a user's sessions on this node from inside the chat service (a server ban, a changed password, a
deleted account); :mod:`~wampchat.chat.revocation_feed` does it on every node.

The router has no "kill" meta procedure; the realm holds the sessions, so the
service tells each one GOODBYE with a reason the client can show. From then
on the session can do nothing (the router answers only GOODBYE in that
state); a client that does not answer within :data:`GOODBYE_GRACE` seconds
has its connection closed, so it keeps nothing.
"""
from typing import Callable, Optional

from wampchat.router.meta import end_session

PASSWORD_CHANGED = "wampchat.close.password_changed"
ACCOUNT_DELETED = "wampchat.close.account_deleted"
BANNED = "wampchat.error.banned"
GOODBYE_GRACE = 3.0
REASON_TEXT = {
    BANNED: "you are banned from this server",
    PASSWORD_CHANGED: "the password of this account was changed",
    ACCOUNT_DELETED: "this account was deleted",
}


def reason_text(reason: str) -> str:
    """What a client shows for a GOODBYE ``reason``."""
    return REASON_TEXT.get(reason, "ended by the server")


def end_sessions(realm, clock, authid: str, reason: str, text: str, keep: Optional[int] = None,
                 joined_before: Optional[int] = None, joined_at: Optional[Callable] = None) -> int:
    """GOODBYE ``reason`` to every session of ``authid`` on this node but ``keep`` (and, given
    ``joined_before`` ms, but those that ``joined_at(session id)`` says joined after it: a login with the new
    password, made after the change, stays); how many were told."""
    ended = 0
    for info in realm.sessions():
        if info.authid != authid or info.id == keep:
            continue
        if joined_before is not None and joined_at is not None and (joined_at(info.id) or 0) > joined_before:
            continue
        session = realm.session(info.id)
        if session is None:
            continue
        end_session(clock, session, reason, text, GOODBYE_GRACE)
        ended += 1
    return ended
