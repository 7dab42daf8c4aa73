"""
Stored credentials: salted slow hashes only, never a password in clear.

Ticket logins are checked against an scrypt hash. WAMP-CRA needs a key the
client can derive from its password too, so we keep Autobahn's PBKDF2
``derive_key`` result with its salt; it is a password-equivalent for CRA
only and is never sent over the wire.

Run ``python -m wampchat.router.credentials NAME ROLE`` to print a user entry
for the config file (the password is read from stdin).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass

from autobahn.wamp.auth import derive_key
from twisted.internet import defer

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
CRA_ITERATIONS = 4096
CRA_KEYLEN = 32


@dataclass
class Credentials:
    """What the router needs to authenticate ``authid`` and give it a role."""

    authid: str
    role: str
    password_hash: str
    cra_salt: str
    cra_key: str
    cra_iterations: int = CRA_ITERATIONS
    cra_keylen: int = CRA_KEYLEN


def hash_password(password, salt=None):
    """An ``scrypt$n$r$p$salt$hash`` string (slow on purpose: run it off the reactor)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    b64 = lambda b: base64.b64encode(b).decode("ascii")
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password, stored):
    """Constant-time check of ``password`` against :func:`hash_password` output."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


def make_credentials(authid, password, role):
    """Fresh salted credentials for a new user (slow: call it in a thread)."""
    cra_salt = base64.b64encode(os.urandom(16)).decode("ascii")
    cra_key = derive_key(password, cra_salt, CRA_ITERATIONS, CRA_KEYLEN)
    if isinstance(cra_key, bytes):
        cra_key = cra_key.decode("ascii")
    return Credentials(
        authid=authid,
        role=role,
        password_hash=hash_password(password),
        cra_salt=cra_salt,
        cra_key=cra_key,
    )


def credentials_from_dict(entry):
    """Credentials from a config-file user entry (see the README)."""
    return Credentials(
        authid=entry["authid"],
        role=entry["role"],
        password_hash=entry["password_hash"],
        cra_salt=entry["cra_salt"],
        cra_key=entry["cra_key"],
        cra_iterations=int(entry.get("cra_iterations", CRA_ITERATIONS)),
        cra_keylen=int(entry.get("cra_keylen", CRA_KEYLEN)),
    )


class StaticCredentials:
    """Credentials listed in the config file."""

    def __init__(self, entries=(), keys=()):
        self._by_authid = {c.authid: c for c in entries}
        self._keys = {key.pubkey: (key.authid, key.role) for key in keys}

    def add(self, credentials):
        self._by_authid[credentials.authid] = credentials

    def get_credentials(self, authid):
        return defer.succeed(self._by_authid.get(authid))

    def key_identity(self, pubkey):
        """(authid, role) of a Cryptosign key listed in the config file, or None."""
        return defer.succeed(self._keys.get(pubkey))


UNAVAILABLE = "wampchat.error.unavailable"


class CredentialsUnavailable(Exception):
    """A provider cannot answer now (its database is away): the login is refused with UNAVAILABLE, a
    temporary state the client may retry, and is not counted as a failed guess."""


class CredentialsChain:
    """Asks each provider in turn; the first that knows the authid answers."""

    def __init__(self, providers=()):
        self._providers = list(providers)

    def add_provider(self, provider):
        self._providers.append(provider)

    @defer.inlineCallbacks
    def get_credentials(self, authid):
        for provider in self._providers:
            found = yield provider.get_credentials(authid)
            if found is not None:
                return found
        return None

    def token_user(self, token):
        """Deferred of the user an API token logs in as (its last use noted), or None."""
        return self._first("token_user", token)

    def key_identity(self, pubkey):
        """Deferred of (authid, role) of a Cryptosign public key (hex), or None."""
        return self._first("key_identity", pubkey)

    @defer.inlineCallbacks
    def _first(self, method, value):
        """The first answer but None of the providers that have ``method``."""
        for provider in self._providers:
            ask = getattr(provider, method, None)
            found = None if ask is None else (yield ask(value))
            if found is not None:
                return found
        return None


def main(argv=None):
    """Print a config-file user entry for NAME with ROLE; password from stdin."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m wampchat.router.credentials NAME ROLE < password", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    creds = make_credentials(argv[0], password, argv[1])
    print(json.dumps(creds.__dict__, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
