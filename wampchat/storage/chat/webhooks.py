"""Incoming webhooks (``webhooks``): a room's secret URLs that post as a named bot ``hook_<id>``."""
import hmac
from typing import Optional

from wampchat.storage.chat import members

MAX_WEBHOOKS = 20   # per room


class TooManyWebhooks(Exception):
    """The room has MAX_WEBHOOKS webhooks already."""


def add_webhook(tx, hook_id: str, room: str, name: str, secret_hash: str, creator: str, created: int) -> None:
    """Store a webhook and make its bot a member of the room (so it may post in a private one)."""
    row = tx.one("SELECT COUNT(*) AS n FROM webhooks WHERE room = ?", (room,))
    if row["n"] >= MAX_WEBHOOKS:
        raise TooManyWebhooks(f"a room may have at most {MAX_WEBHOOKS} webhooks; delete one first")
    tx.execute("INSERT INTO webhooks (id, room, name, secret_hash, creator, created) VALUES (?, ?, ?, ?, ?, ?)",
               (hook_id, room, name, secret_hash, creator, created))
    members.add_member(tx, room, f"hook_{hook_id}", created)


def webhooks_of(tx, room: str) -> list:
    """A room's webhooks, oldest first, without their secrets."""
    rows = tx.query("SELECT id, name, creator, created FROM webhooks WHERE room = ? ORDER BY created, id", (room,))
    return [dict(row) for row in rows]


def delete_webhook(tx, room: str, hook_id: str) -> bool:
    """Delete a webhook and its bot's membership; False when the room has no such webhook."""
    tx.execute("DELETE FROM webhooks WHERE id = ? AND room = ?", (hook_id, room))
    if tx.rowcount == 0:
        return False
    members.remove_member(tx, room, f"hook_{hook_id}")
    return True


def use_webhook(tx, hook_id: str, secret_hash: str) -> Optional[dict]:
    """{room, name} of the webhook with this id and secret, or None."""
    row = tx.one("SELECT room, name, secret_hash FROM webhooks WHERE id = ?", (hook_id,))
    if row is None or not hmac.compare_digest(row["secret_hash"], secret_hash):
        return None
    return {"room": row["room"], "name": row["name"]}
