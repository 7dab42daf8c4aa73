"""
Message reports (API §8): a message reported to the room's moderators and the server's admins, kept with a copy
of what it said when reported (the message may be edited or deleted later), and, once resolved, who resolved
it, how and when. The resolution is written with its audit entry in one transaction.
"""
from wampchat.storage.chat import audit
from wampchat.storage.chat.changes import locked_message
from wampchat.storage.chat.moderation import room_moderators

RESOLVED_FIELDS = ("resolved_by", "resolution", "resolved_ts")


def report_dict(row) -> dict:
    """A Report as the API shows it: the resolution's fields only once it is resolved."""
    report = {"id": row["id"], "room": row["room"], "message": row["message"], "author": row["author"],
              "text": row["text"], "reporter": row["reporter"], "reason": row["reason"], "ts": row["ts"]}
    if row["resolved_by"] is not None:
        report.update({field: row[field] for field in RESOLVED_FIELDS})
    return report


def add_report(tx, room_id: str, message_id: str, reporter: str, reason: str, now: int) -> tuple | None:
    """(Report, created): a new report of a live message, or the one ``reporter`` already made of it (then
    nothing is added). None when the message does not exist or is deleted. The message's row stays locked until
    commit, so two reports of it by one user at once still make one."""
    message = locked_message(tx, room_id, message_id)
    if message is None or message["deleted"]:
        return None
    existing = tx.one("SELECT * FROM reports WHERE room = ? AND message = ? AND reporter = ?",
                      (room_id, message_id, reporter))
    if existing is not None:
        return report_dict(existing), False
    row = tx.one("INSERT INTO reports (room, message, author, text, reporter, reason, ts) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                 (room_id, message_id, message["username"], message["text"], reporter, reason, now))
    return report_dict(row), True


def find_report(tx, room_id: str, message_id: str, reporter: str) -> dict | None:
    """The report ``reporter`` made of that message, if any."""
    row = tx.one("SELECT * FROM reports WHERE room = ? AND message = ? AND reporter = ?",
                 (room_id, message_id, reporter))
    return report_dict(row) if row is not None else None


def get_report(tx, report_id: int) -> dict | None:
    row = tx.one("SELECT * FROM reports WHERE id = ?", (report_id,))
    return report_dict(row) if row is not None else None


def reports(tx, rooms: list | None, resolved: bool, limit: int) -> list:
    """Up to ``limit`` reports, newest first: open ones (``resolved`` False) or resolved ones, of every room
    (``rooms`` None) or only of ``rooms``."""
    if rooms is not None and not rooms:
        return []
    where = ["resolved_by IS NOT NULL" if resolved else "resolved_by IS NULL"]
    params: list = []
    if rooms is not None:
        where.append(f"room IN ({', '.join('?' * len(rooms))})")
        params += rooms
    rows = tx.query(f"SELECT * FROM reports WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                    params + [limit])
    return [report_dict(row) for row in rows]


def resolve_report(tx, report_id: int, actor: str, resolution: str, now: int) -> dict | None:
    """Resolve an open report and audit it (target: the reported message's author, reason: the resolution);
    the resolved Report, or None when it was resolved already (one resolution wins, also on two nodes at once)."""
    row = tx.one("UPDATE reports SET resolved_by = ?, resolution = ?, resolved_ts = ? "
                 "WHERE id = ? AND resolved_by IS NULL RETURNING *", (actor, resolution, now, report_id))
    if row is None:
        return None
    audit.append(tx, now, actor, "resolve_report", row["room"], row["author"], resolution)
    return report_dict(row)


def recipients(tx, room_id: str) -> list:
    """Who hears of a new report in the room: its owner and moderators, and every admin account not deleted."""
    admins = tx.query("SELECT username FROM users WHERE role = 'admin' AND deleted = ?", (False,))
    return sorted(set(room_moderators(tx, room_id)) | {r["username"] for r in admins})
