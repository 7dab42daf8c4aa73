"""
Ending a user's sessions on this node from inside the chat service (a changed password, a deleted account).

The router has no "kill" meta procedure; the realm holds the sessions, so the
service tells each one GOODBYE with a reason the client can show. From then
on the session can do nothing (the router answers only GOODBYE in that
state); a client that does not answer within :data:`GOODBYE_GRACE` seconds
has its connection closed, so it keeps nothing.
"""
from typing import Optional

PASSWORD_CHANGED = "wampchat.close.password_changed"
ACCOUNT_DELETED = "wampchat.close.account_deleted"
GOODBYE_GRACE = 5.0


def end_sessions(realm, clock, authid: str, reason: str, text: str, keep: Optional[int] = None) -> int:
    """GOODBYE ``reason`` to every session of ``authid`` on this node but ``keep``; how many were told."""
    ended = 0
    for info in realm.sessions():
        if info.authid != authid or info.id == keep:
            continue
        session = realm.session(info.id)
        if session is None:
            continue
        session.leave(reason, text)
        clock.callLater(GOODBYE_GRACE, _close_if_open, session)
        ended += 1
    return ended


def _close_if_open(session) -> None:
    """The session did not answer GOODBYE in time: close its connection."""
    if session.is_open():
        session.close_transport()
