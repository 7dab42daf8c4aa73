"""Cryptosign public keys (``auth_keys``): an Ed25519 public key (64 hex digits) logs in as its user."""
from typing import Optional


def add_key(tx, username: str, pubkey: str, comment: str, created: int) -> Optional[str]:
    """Add a key to a live user; an error text (no such user, key held already) or None."""
    user = tx.one("SELECT deleted FROM users WHERE username = ?", (username,))
    if user is None or user["deleted"]:
        return f"no user {username!r}"
    if tx.one("SELECT username FROM auth_keys WHERE pubkey = ?", (pubkey,)) is not None:
        return "this key is on file already"
    tx.execute("INSERT INTO auth_keys (pubkey, username, comment, created) VALUES (?, ?, ?, ?)",
               (pubkey, username, comment, created))
    return None


def key_identity(tx, pubkey: str) -> Optional[tuple]:
    """(username, role) of the live user holding ``pubkey``, or None."""
    row = tx.one("SELECT u.username, u.role FROM auth_keys k JOIN users u ON u.username = k.username "
                 "WHERE k.pubkey = ? AND NOT u.deleted", (pubkey,))
    return None if row is None else (row["username"], row["role"])


def remove_key(tx, username: str, pubkey: str) -> bool:
    tx.execute("DELETE FROM auth_keys WHERE pubkey = ? AND username = ?", (pubkey, username))
    return tx.rowcount > 0
