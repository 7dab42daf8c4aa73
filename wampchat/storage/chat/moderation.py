"""
Room roles and room settings: who moderates a room, and how it is set up (topic, read-only, slow mode,
retention). Each change is written with its audit entry in one transaction.
"""
from wampchat.storage.chat import audit
from wampchat.storage.chat.rows import room_dict

SETTINGS = ("title", "topic", "read_only", "slow_mode", "retention_days")
MODERATOR_ROLES = ("owner", "moderator")
READ_ONLY = "read-only room"   # why a send was refused (SendOutcome.refused)
SLOW = "slow mode"
BANNED = "banned"
MUTED = "muted"


def member_role(tx, room_id: str, user: str) -> str | None:
    """``user``'s role in the room (``owner``, ``moderator``, ``member``), or None for a non-member."""
    row = tx.one("SELECT role FROM members WHERE room = ? AND username = ?", (room_id, user))
    return row["role"] if row is not None else None


def moderated_rooms(tx, user: str) -> list:
    """The rooms ``user`` owns or moderates."""
    return [r["room"] for r in tx.query("SELECT room FROM members WHERE username = ? AND role IN "
                                        "('owner', 'moderator') ORDER BY room", (user,))]


def room_moderators(tx, room_id: str) -> list:
    """The room's moderator+ by room role: its owner (its creator, also after leaving) and its moderators, sorted
    (server admins are not listed here)."""
    rows = tx.query("SELECT username FROM members WHERE room = ? AND role IN ('owner', 'moderator') "
                    "UNION SELECT owner AS username FROM rooms WHERE id = ? AND owner IS NOT NULL",
                    (room_id, room_id))
    return sorted(r["username"] for r in rows)


def set_role(tx, room_id: str, user: str, role: str, actor: str, now: int) -> str | None:
    """Give a member ``role``; the role they had (None when not a member, nothing changed then). An owner's
    role is never changed here (the caller refuses that); the audit entry is written when the role changed."""
    before = member_role(tx, room_id, user)
    if before is None or before == "owner":
        return before
    if before != role:
        tx.execute("UPDATE members SET role = ? WHERE room = ? AND username = ?", (role, room_id, user))
        audit.append(tx, now, actor, "set_role", room_id, user, role)
    return before


def update_room(tx, room_id: str, changes: dict, actor: str, now: int) -> tuple:
    """Apply the ``changes`` that differ from what is stored: (the Room now, {field: new value} changed),
    or (None, {}) when there is no such room. The audit entry lists what changed."""
    row = tx.one("SELECT * FROM rooms WHERE id = ?", (room_id,))
    if row is None:
        return None, {}
    current = room_dict(row)
    changed = {field: value for field, value in changes.items() if field in SETTINGS and current[field] != value}
    if changed:
        assignments = ", ".join(f"{field} = ?" for field in changed)
        tx.execute(f"UPDATE rooms SET {assignments} WHERE id = ?", [*changed.values(), room_id])
        audit.append(tx, now, actor, "update_room", room_id, None, describe(changed))
        current.update(changed)
    return current, changed


def describe(changed: dict) -> str:
    """What changed, for the audit entry's ``reason``: ``field=value`` pairs (long texts cut)."""
    parts = []
    for field, value in changed.items():
        shown = repr(value[:60] + "…" if isinstance(value, str) and len(value) > 60 else value)
        parts.append(f"{field}={shown}")
    return ", ".join(parts)


class Sanctions:
    """The bans and mutes in force on a send batch's authors in one room."""

    __slots__ = ("banned", "banned_addresses", "muted")

    def __init__(self) -> None:
        self.banned: set = set()
        self.banned_addresses: set = set()
        self.muted: set = set()

    @classmethod
    def of_rows(cls, rows) -> "Sanctions":
        """From rows (username, address, kind ``ban`` or ``mute``) of :func:`sanctions.sanctions_later`."""
        held = cls()
        for r in rows:
            if r["kind"] == "mute":
                held.muted.add(r["username"])
            else:
                held.banned.add(r["username"])
                if r["address"] is not None:
                    held.banned_addresses.add(r["address"])
        return held


class RoomRules:
    """A room's rules for one send batch (read under the room's lock, so every node applies the same): a
    banned author (or, joining by this send, a guest from a banned address) and a muted one may not send;
    moderator+ (the owner, moderators, server admins) pass read-only and slow mode; a member may not send to a
    read-only room, nor sooner than ``slow_mode`` seconds after their last message there (the batch's own
    messages count too). Server admins are held back by nothing."""

    def __init__(self, room: dict, roles: dict, last_sent: dict, held: Sanctions | None = None) -> None:
        self._room = room
        self._roles = roles
        self._last_sent = dict(last_sent)
        self._held = held or Sanctions()

    def refusal(self, user: str, admin: bool, ts: int, address: str | None = None,
                member: bool = True) -> tuple | None:
        """None when ``user`` may send now (it then counts as their last message), else (why, retry after ms)."""
        if admin:
            return None
        held = self._held
        if user in held.banned or (not member and address is not None and address in held.banned_addresses):
            return BANNED, 0
        if user in held.muted:
            return MUTED, 0
        if user == self._room["owner"] or self._roles.get(user) in MODERATOR_ROLES:
            return None
        if self._room["read_only"]:
            return READ_ONLY, 0
        slow_ms = self._room["slow_mode"] * 1000
        if slow_ms:
            last = self._last_sent.get(user)
            if last is not None and ts - last < slow_ms:
                return SLOW, last + slow_ms - ts
            self._last_sent[user] = ts
        return None
