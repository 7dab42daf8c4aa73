"""API tokens (``api_tokens``): made, listed and revoked by their owner; a token is found by its id and
checked against its stored hash (see :mod:`wampchat.router.tokens`)."""
import hmac
from typing import Optional

MAX_TOKENS = 50   # live tokens one user may hold


class TooManyTokens(Exception):
    """The user holds MAX_TOKENS tokens already."""


def add_token(tx, token_id: str, username: str, name: str, token_hash: str, created: int) -> None:
    """Store a new token's hash; TooManyTokens when the user holds MAX_TOKENS."""
    row = tx.one("SELECT COUNT(*) AS n FROM api_tokens WHERE username = ?", (username,))
    if row["n"] >= MAX_TOKENS:
        raise TooManyTokens(f"at most {MAX_TOKENS} tokens per user; revoke one first")
    tx.execute("INSERT INTO api_tokens (id, username, name, token_hash, created) VALUES (?, ?, ?, ?, ?)",
               (token_id, username, name, token_hash, created))


def tokens_of(tx, username: str) -> list:
    """A user's tokens, oldest first, without their hashes."""
    rows = tx.query("SELECT id, name, created, last_used FROM api_tokens WHERE username = ? ORDER BY created, id",
                    (username,))
    return [dict(row) for row in rows]


def revoke_token(tx, username: str, token_id: str) -> bool:
    """Delete one of the user's tokens; False when the user has no token with that id."""
    tx.execute("DELETE FROM api_tokens WHERE id = ? AND username = ?", (token_id, username))
    return tx.rowcount > 0


def use_token(tx, token_id: str, token_hash: str, now: int) -> Optional[str]:
    """The owner of the token with this id and hash (its last use set to ``now``), or None: no such token, a
    wrong secret, or an account deleted since."""
    row = tx.one("SELECT t.username, t.token_hash, u.deleted FROM api_tokens t JOIN users u "
                 "ON u.username = t.username WHERE t.id = ?", (token_id,))
    if row is None or not hmac.compare_digest(row["token_hash"], token_hash) or row["deleted"]:
        return None
    tx.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, token_id))
    return row["username"]
