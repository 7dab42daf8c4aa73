"""A send batch's reads of one room in one statement, where statements are not pipelined (SQLite).

SQLite runs each statement at once, and its driver gives up the interpreter at
every step, one per row read: the room's row, its authors' roles and the
sanctions on them took three statements and a step per row, each a chance for
the reactor to take the interpreter and the database thread to wait for it
back. Here they are one statement of one row (the roles and sanctions as JSON
arrays), read under the same write lock, so they say what the three queries said.
"""
import json

from wampchat.storage.chat.sanctions import ACTIVE


def room_reads_later(tx, room_id: str, authors: list, addresses: list, now: int):
    """A :meth:`Transaction.later` of the rooms row of ``room_id`` plus ``batch_roles`` (JSON [[username,
    role]...] of the ``authors`` who are members, or of every member of a private room) and
    ``batch_sanctions`` (JSON [[username, address, kind]...] of the bans and mutes in force on the authors,
    and bans on ``addresses``); no row when there is no such room."""
    names = ", ".join("?" * len(authors))
    by_address = f" OR address IN ({', '.join('?' * len(addresses))})" if addresses else ""
    sql = (f"SELECT r.*, (SELECT json_group_array(json_array(username, role)) FROM members "
           f"WHERE room = r.id AND (username IN ({names}) OR r.private)) AS batch_roles, "
           f"(SELECT json_group_array(json_array(username, address, kind)) FROM ("
           f"SELECT username, address, 'ban' AS kind FROM room_bans WHERE room = r.id AND {ACTIVE} "
           f"AND (username IN ({names}){by_address}) UNION ALL "
           f"SELECT username, NULL AS address, 'mute' AS kind FROM room_mutes WHERE room = r.id AND {ACTIVE} "
           f"AND username IN ({names}))) AS batch_sanctions FROM rooms r WHERE r.id = ?")
    return tx.later(sql, [*authors, now, *authors, *addresses, now, *authors, room_id])


def roles_of(row) -> dict:
    """{member: room role} from a :func:`room_reads_later` row."""
    return dict(json.loads(row["batch_roles"])) if row is not None else {}


def sanction_rows(row) -> list:
    """Rows (username, address, kind) of the bans and mutes a :func:`room_reads_later` row holds."""
    if row is None:
        return []
    return [{"username": u, "address": a, "kind": k} for u, a, k in json.loads(row["batch_sanctions"])]
