"""
Files: uploads waiting for their bytes, their blobs, attaching them to a message, and removing them.

A file is first a row with a one-use upload token (its hash) and the size
its uploader declared; the bytes arrive once, with the content type sniffed
from them, and make it ``uploaded``; a send then attaches it to its message
(``message``), in the send's transaction. Before that only its uploader may
fetch it. It goes with its message (deleted or expired), and an upload
never sent goes after a day.
"""
from wampchat.storage.chat.accounts import in_chunks

FILE_FIELDS = ("id", "name", "size", "content_type", "width", "height")


def shared_secret(tx, name: str, candidate: str) -> str:
    """The secret ``name``: ``candidate`` if this is the first time anyone asks, else the one stored first,
    so every node of a cluster ends up with the same value."""
    tx.execute("INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, candidate))
    return tx.one("SELECT value FROM secrets WHERE name = ?", (name,))["value"]


def add_upload(tx, file_id, room, uploader, name, size, token_hash, now, expires, quota, since):
    """A new upload waiting for its bytes; None (nothing stored) when it would take ``uploader`` past
    ``quota`` bytes declared since ``since`` (uploads used or not, so unfinished ones count too)."""
    used = tx.one("SELECT COALESCE(SUM(size), 0) AS used FROM files WHERE uploader = ? AND created > ?",
                  (uploader, since))["used"]
    if used + size > quota:
        return None
    tx.execute("INSERT INTO files (id, room, uploader, name, content_type, size, created, upload_token_hash, "
               "upload_expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (file_id, room, uploader, name, "application/octet-stream", size, now, token_hash, expires))
    return int(used + size)


def pending_upload(tx, file_id, token_hash, now):
    """The file row whose bytes ``token_hash`` may still send, or None: unknown, used, or expired."""
    return tx.one("SELECT * FROM files WHERE id = ? AND upload_token_hash = ? AND upload_expires > ? "
                  "AND NOT uploaded", (file_id, token_hash, now))


def finish_upload(tx, file_id, token_hash, now, content_type, width, height, blobs) -> bool:
    """Spend the token and store the bytes: ``blobs`` is {kind: (content type, data)}. False when the token
    was spent meanwhile (or expired): then nothing is stored."""
    tx.execute("UPDATE files SET uploaded = ?, upload_token_hash = NULL, content_type = ?, width = ?, height = ? "
               "WHERE id = ? AND upload_token_hash = ? AND upload_expires > ? AND NOT uploaded",
               (True, content_type, width, height, file_id, token_hash, now))
    if tx.rowcount != 1:
        return False
    for kind, (blob_type, data) in blobs.items():
        tx.execute("INSERT INTO file_blobs (file_id, kind, content_type, data) VALUES (?, ?, ?, ?)",
                   (file_id, kind, blob_type, data))
    return True



def get_file(tx, file_id):
    """The uploaded file's row (who sent it where, in which message), or None."""
    return tx.one("SELECT * FROM files WHERE id = ? AND uploaded", (file_id,))


def file_blob(tx, file_id, kind):
    """(file row, blob content type, bytes) of an uploaded file's ``kind``, or None."""
    row = get_file(tx, file_id)
    if row is None:
        return None
    blob = tx.one("SELECT content_type, data FROM file_blobs WHERE file_id = ? AND kind = ?", (file_id, kind))
    if blob is None:
        return None
    return row, blob["content_type"], bytes(blob["data"])


def attach_files(tx, message_id, file_ids, uploader, room):
    """Attach uploads of ``uploader`` to ``room`` (with their bytes, not sent yet) to a new message: their File
    objects in the order given, or None, and nothing attached, when any of them is not such an upload (a
    concurrent send on another node may have taken it: the UPDATE waits for it and then misses the row)."""
    marks = ", ".join("?" * len(file_ids))
    tx.execute(f"UPDATE files SET message = ? WHERE id IN ({marks}) AND uploader = ? AND room = ? "
               "AND message IS NULL AND uploaded", [message_id, *file_ids, uploader, room])
    if tx.rowcount != len(set(file_ids)):
        tx.execute("UPDATE files SET message = NULL WHERE message = ?", (message_id,))
        return None
    rows = tx.query(f"SELECT * FROM files WHERE id IN ({marks})", list(file_ids))
    by_id = {r["id"]: file_dict(r) for r in rows}
    return [by_id[i] for i in file_ids]


def file_dict(row) -> dict:
    """A File object: width and height only for images."""
    return {k: row[k] for k in FILE_FIELDS if row[k] is not None}


def with_files(tx, messages):
    """Give each Message (dicts, changed in place) that has files its ``files``; one query per page."""
    by_id = {m["id"]: m for m in messages if not m.get("deleted")}
    for chunk, marks in in_chunks(by_id):
        rows = tx.query(f"SELECT * FROM files WHERE message IN ({marks}) ORDER BY created, id", chunk)
        for row in rows:
            by_id[row["message"]].setdefault("files", []).append(file_dict(row))
    return messages


def delete_files_of(tx, message_ids) -> None:
    """A deleted (or expired) message's files go with it."""
    for chunk, marks in in_chunks(message_ids):
        tx.execute(f"DELETE FROM file_blobs WHERE file_id IN (SELECT id FROM files WHERE message IN ({marks}))",
                   chunk)
        tx.execute(f"DELETE FROM files WHERE message IN ({marks})", chunk)


def delete_unsent(tx, created_before, limit=500) -> int:
    """Remove up to ``limit`` uploads never sent that were made before ``created_before``; how many."""
    rows = tx.query("SELECT id FROM files WHERE message IS NULL AND created < ? ORDER BY created LIMIT ?",
                    (created_before, limit))
    ids = [r["id"] for r in rows]
    for chunk, marks in in_chunks(ids):
        tx.execute(f"DELETE FROM file_blobs WHERE file_id IN ({marks})", chunk)
        tx.execute(f"DELETE FROM files WHERE id IN ({marks}) AND message IS NULL", chunk)
    return len(ids)
