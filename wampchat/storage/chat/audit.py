"""
The audit log: one row per moderation or admin action, appended and never changed.

Entries are ordered by their id (a number the database hands out, growing
with every entry), which is also the ``before`` cursor of a page.
"""
AUDIT_PAGE = 200   # entries one page holds at most


def append(tx, ts: int, actor: str, action: str, room: str | None = None, target: str | None = None,
           reason: str | None = None) -> None:
    """Add an entry, in the transaction of the action it records (both commit or neither)."""
    tx.execute("INSERT INTO audit (ts, actor, action, room, target, reason) VALUES (?, ?, ?, ?, ?, ?)",
               (ts, actor, action, room, target, reason))


def entries(tx, rooms: list | None, before: int | None, limit: int) -> tuple:
    """(entries newest first, more): of every room (``rooms`` None) or only of ``rooms``, ids below ``before``."""
    where, params = [], []
    if rooms is not None:
        if not rooms:
            return [], False
        where.append(f"room IN ({', '.join('?' * len(rooms))})")
        params += rooms
    if before is not None:
        where.append("id < ?")
        params.append(before)
    sql = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ?"
    rows = tx.query(sql, params + [limit + 1])
    return [entry_dict(row) for row in rows[:limit]], len(rows) > limit


def entry_dict(row) -> dict:
    """An audit entry as the API shows it: fields without a value are left out."""
    entry = {"id": row["id"], "ts": row["ts"], "actor": row["actor"], "action": row["action"]}
    for field in ("room", "target", "reason"):
        if row[field] is not None:
            entry[field] = row[field]
    return entry
