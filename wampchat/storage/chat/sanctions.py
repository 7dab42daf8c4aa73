"""
Room sanctions: kicks, bans and mutes (API §8), each written with its audit entry and its revocation in one
transaction.

A ban ends the membership and holds until ``until`` (NULL: until unbanned);
a banned guest's client address is kept too, so a fresh guest id from it
cannot walk back in. A mute lets a member read but not send, react or type;
it lives apart from the membership, so leaving and rejoining keeps it.
"""
from wampchat.storage.chat import audit, revocations
from wampchat.storage.chat.members import remove_member

ACTIVE = "(until IS NULL OR until > ?)"


def _revoke(tx, now: int, node: str, room_id: str, user: str, why: str) -> None:
    revocations.append(tx, now, node, revocations.ROOM, user, room_id, why)


def kick(tx, room_id: str, user: str, actor: str, reason: str | None, now: int, node: str) -> bool:
    """End ``user``'s membership; False (nothing written) when they were not a member."""
    if not remove_member(tx, room_id, user):
        return False
    audit.append(tx, now, actor, "kick", room_id, user, reason)
    _revoke(tx, now, node, room_id, user, "kick")
    return True


def ban(tx, room_id: str, user: str, address: str | None, actor: str, reason: str | None, now: int,
        until: int | None, node: str) -> bool:
    """Ban ``user`` (a ban given again replaces the first); True when they were a member (now removed)."""
    tx.execute("INSERT INTO room_bans (room, username, address, by_user, reason, ts, until) "
               "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, username) DO UPDATE SET "
               "address = COALESCE(excluded.address, room_bans.address), by_user = excluded.by_user, "
               "reason = excluded.reason, ts = excluded.ts, until = excluded.until",
               (room_id, user, address, actor, reason, now, until))
    was_member = remove_member(tx, room_id, user)
    audit.append(tx, now, actor, "ban", room_id, user, reason)
    _revoke(tx, now, node, room_id, user, "ban")
    return was_member


def _lift(tx, table: str, action: str, room_id: str, user: str, actor: str, now: int) -> bool:
    """Lift a ban or mute in force, audited as ``action``; False when there was none."""
    tx.execute(f"DELETE FROM {table} WHERE room = ? AND username = ? AND {ACTIVE}", (room_id, user, now))
    if tx.rowcount != 1:
        return False
    audit.append(tx, now, actor, action, room_id, user)
    return True


def unban(tx, room_id: str, user: str, actor: str, now: int) -> bool:
    """Lift a ban in force; False when there was none."""
    return _lift(tx, "room_bans", "unban", room_id, user, actor, now)


def bans(tx, room_id: str, now: int) -> list:
    """The room's bans in force, newest first: ``{user, by, reason, until}``."""
    rows = tx.query(f"SELECT username, by_user, reason, until FROM room_bans WHERE room = ? AND {ACTIVE} "
                    "ORDER BY ts DESC, username", (room_id, now))
    return [{"user": r["username"], "by": r["by_user"], "reason": r["reason"], "until": r["until"]} for r in rows]


def mute(tx, room_id: str, user: str, actor: str, reason: str | None, now: int, until: int | None) -> None:
    tx.execute("INSERT INTO room_mutes (room, username, by_user, ts, until) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (room, username) DO UPDATE SET by_user = excluded.by_user, ts = excluded.ts, "
               "until = excluded.until", (room_id, user, actor, now, until))
    audit.append(tx, now, actor, "mute", room_id, user, reason)


def unmute(tx, room_id: str, user: str, actor: str, now: int) -> bool:
    """Lift a mute in force; False when there was none."""
    return _lift(tx, "room_mutes", "unmute", room_id, user, actor, now)


def sanction(tx, room_id: str, user: str, address: str | None, now: int) -> str | None:
    """``"ban"`` when ``user`` (or, given, their client address) is banned from the room, ``"mute"`` when they
    are muted there, else None."""
    params = [room_id, now, user]
    by_address = ""
    if address is not None:
        by_address = " OR address = ?"
        params.append(address)
    if tx.one(f"SELECT 1 AS x FROM room_bans WHERE room = ? AND {ACTIVE} AND (username = ?{by_address})", params):
        return "ban"
    if tx.one(f"SELECT 1 AS x FROM room_mutes WHERE room = ? AND username = ? AND {ACTIVE}", (room_id, user, now)):
        return "mute"
    return None


def sanctions_later(tx, room_id: str, users: list, addresses: list, now: int):
    """A :meth:`Transaction.later` of the bans and mutes in force on ``users`` (and bans on ``addresses``):
    rows (username, address, kind), for a send batch."""
    names = ", ".join("?" * len(users))
    by_address = f" OR address IN ({', '.join('?' * len(addresses))})" if addresses else ""
    return tx.later(f"SELECT username, address, 'ban' AS kind FROM room_bans WHERE room = ? AND {ACTIVE} "
                    f"AND (username IN ({names}){by_address}) UNION ALL "
                    f"SELECT username, NULL AS address, 'mute' AS kind FROM room_mutes WHERE room = ? AND {ACTIVE} "
                    f"AND username IN ({names})", [room_id, now, *users, *addresses, room_id, now, *users])


def record_guest_address(tx, room_id: str | None, user: str, address: str) -> None:
    """The node hosting a banned guest fills in its client address (the banning node may not know it)."""
    if room_id is None:
        tx.execute("UPDATE server_bans SET address = ? WHERE username = ? AND address IS NULL", (address, user))
    else:
        tx.execute("UPDATE room_bans SET address = ? WHERE room = ? AND username = ? AND address IS NULL",
                   (address, room_id, user))
