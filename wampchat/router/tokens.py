"""
API tokens: what one looks like, and the one form it is stored in.

A token is ``wct_<id>_<secret>``: the id (16 hex digits) finds its row, the
secret is 32 random bytes (URL-safe base64). Only the SHA-256 of the whole
token is stored: the token is high-entropy, so a slow hash would add
nothing, and a leaked table gives no token back. The caller sees the token
once, when it is made.
"""
import hashlib
import re
import secrets
from typing import Optional

PREFIX = "wct_"
_TOKEN = re.compile(r"^wct_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$")


def token_hash(token: str) -> str:
    """The stored form of ``token`` (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple:
    """(id, token, hash) of a fresh token."""
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, token_hash(token)


def token_id(token: object) -> Optional[str]:
    """The id of a well-formed token, or None for anything else (a password, say)."""
    if not isinstance(token, str):
        return None
    found = _TOKEN.match(token)
    return found.group(1) if found else None
