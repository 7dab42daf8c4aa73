"""
Signed, expiring file URLs, checked on every node: HMAC-SHA256 with a key all nodes share.

The key is made at the first start of the first node and kept in the
database (``secrets``); every node reads the same one, so a URL one node
signed is good on all of them. A URL names the file, the kind (``original``
or ``thumbnail``) and when it runs out, and the signature covers all three:
changing any of them, or using it late, is a 403.
"""
import hashlib
import hmac
import math
import secrets
from urllib.parse import urlencode

KEY_NAME = "file_url_key"
URL_LIFETIME = 3600          # seconds a URL is good for, at least
URL_STEP = 600               # expiries are rounded up to this, so one file's URL stays the same (cacheable) a while


def new_key() -> str:
    return secrets.token_hex(32)


def token_hash(token: str) -> str:
    """How an upload token is stored: only its hash, so reading the database does not give upload rights."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UrlSigner:
    """Signs and checks download URLs with the cluster's shared key."""

    def __init__(self, key: str) -> None:
        self._key = key.encode("ascii")

    def signature(self, file_id: str, kind: str, expires: int) -> str:
        message = f"{file_id}\n{kind}\n{expires}".encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, file_id: str, kind: str, expires: int) -> str:
        """The download path (same origin) of ``file_id``'s ``kind``, good until ``expires`` (s since epoch)."""
        query = {"exp": expires, "sig": self.signature(file_id, kind, expires)}
        if kind == "thumbnail":
            query["thumb"] = 1
        return f"/files/{file_id}?{urlencode(query)}"

    def valid(self, file_id: str, kind: str, expires: str, signature: str, now: float) -> bool:
        """Whether the signature is this key's for these values and has not run out."""
        if not expires.isdigit() or len(expires) > 12 or int(expires) <= now:
            return False
        expected = self.signature(file_id, kind, int(expires))
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


def expiry(now: float) -> int:
    """When a URL made ``now`` runs out: at least URL_LIFETIME later, on a URL_STEP boundary."""
    return int(math.ceil((now + URL_LIFETIME) / URL_STEP) * URL_STEP)
