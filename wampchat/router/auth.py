"""
Authentication: anonymous (guests), ticket and WAMP-CRA.

Every method answers unknown users and wrong passwords the same way, and the
login limits (login_limits.py) throttle password logins per source address and
per account, and new guest sessions per address, refusing at once (before any
lookup or hashing) while a limit is reached.
"""
import base64
import functools
import hashlib
import hmac
import json
import os
from typing import Optional

from autobahn.wamp.auth import compute_wcs
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from wampchat.names import NAME_MAX, NameRefused, normalize_display_name
from wampchat.router.auth_outcomes import Challenge, Identity, Refusal
from wampchat.router.credentials import (CRA_ITERATIONS, CRA_KEYLEN, UNAVAILABLE, CredentialsUnavailable,
                                         hash_password, verify_password)
from wampchat.router.cryptosign import KeyOwner, challenge_for, normalize_pubkey, not_on_file, verify_signature
from wampchat.router.login_limits import LoginLimits
from wampchat.router.outage import OutageNotice
from wampchat.router.tokens import token_id

GUEST_ROLE = "guest"
NICK_MAX = NAME_MAX


def validate_nick(nick: object) -> str:
    """A display nick as shown (NFKC, trimmed); NameRefused, saying why, for one that is empty, too long, holds
    invisible or direction-changing characters or mixes scripts (the rules of :mod:`wampchat.names`)."""
    return normalize_display_name(nick)


def new_guest_id() -> str:
    """``guest_`` and 8 random hex digits (API.md): a clash with a guest online is refused at the join hook."""
    return "guest_" + os.urandom(4).hex()


class Authenticator:
    """Runs the HELLO -> (CHALLENGE -> AUTHENTICATE) -> identity exchange."""

    METHODS = ("anonymous", "ticket", "wampcra", "cryptosign")

    def __init__(self, reactor, credentials, allow_guests=True, limits: Optional[LoginLimits] = None):
        self._reactor = reactor
        self._credentials = credentials
        self.allow_guests = allow_guests
        self.limits = limits or LoginLimits(reactor)
        self._secret = os.urandom(32)
        self._outage = OutageNotice(reactor, "the user store (logins)")

    def _credentials_of(self, authid, source):
        """The stored credentials of ``authid`` (or None); while the store is away, the login is refused as
        ``unavailable`` (a state to retry, one warning per outage) and not counted as a guess."""
        return self._guarded(self._credentials.get_credentials, authid, authid, source)

    @defer.inlineCallbacks
    def _guarded(self, ask, value, authid, source):
        """``ask(value)`` of the credentials provider, a store that is away refused as ``unavailable``."""
        try:
            found = yield ask(value)
        except CredentialsUnavailable as e:
            self._outage.refused(e)
            self.limits.login_unanswered(source, authid)
            raise Refusal(UNAVAILABLE, "the user database is unavailable; try again shortly")
        self._outage.recovered()
        return found

    def hello(self, hello, source):
        """Deferred firing with an Identity or a Challenge; fails with Refusal."""
        methods = hello.authmethods or ["anonymous"]
        for method in methods:
            if method == "anonymous" and self.allow_guests:
                return self._anonymous(hello, source)
            if method in ("ticket", "wampcra") and hello.authid:
                return self._password_challenge(method, hello.authid, source)
            if method == "cryptosign" and (hello.authextra or {}).get("pubkey") is not None:
                return self._cryptosign_challenge(hello, source)
        return defer.fail(Refusal("wamp.error.no_auth_method",
                                  "no acceptable authmethod (offered: %s)" % ", ".join(map(str, methods))))

    def _password_challenge(self, method: str, authid: str, source: str) -> defer.Deferred:
        """The challenge for a password login, once the limits have counted it (refused at once if over)."""
        try:
            self.limits.start_login(source, authid)
        except Refusal as refusal:
            return defer.fail(refusal)
        if method == "ticket":
            return defer.succeed(Challenge("ticket", {}, authid))
        return self._cra_challenge(authid, source)

    @defer.inlineCallbacks
    def _cryptosign_challenge(self, hello, source):
        """A Cryptosign CHALLENGE for a key on file (counted by the login limits like a password login)."""
        try:
            pubkey = normalize_pubkey(hello.authextra["pubkey"])
        except ValueError as e:
            raise Refusal("wamp.error.not_authorized", str(e))
        self.limits.start_login(source, hello.authid or pubkey)
        found = yield self._guarded(self._credentials.key_identity, pubkey, hello.authid or pubkey, source)
        if found is None:
            raise not_on_file()
        return challenge_for(KeyOwner(found[0], found[1], pubkey), hello.authid)

    def _anonymous(self, hello, source):
        try:
            self.limits.start_guest(source)
        except Refusal as refusal:
            return defer.fail(refusal)
        extra = hello.authextra or {}
        authid = new_guest_id()
        nick = authid
        if extra.get("nick") is not None:
            try:
                nick = validate_nick(extra.get("nick"))
            except NameRefused as refused:
                return defer.fail(Refusal("wamp.error.invalid_argument", f"invalid nick: {refused}"))
        return defer.succeed(Identity(authid, GUEST_ROLE, "anonymous", "anonymous", {"nick": nick}))

    @defer.inlineCallbacks
    def _cra_challenge(self, authid, source):
        creds = yield self._credentials_of(authid, source)
        if creds is None:
            # A stable fake salt, so probing cannot tell unknown users from known ones.
            salt = base64.b64encode(hmac.new(self._secret, authid.encode(), hashlib.sha256).digest()[:16])
            salt, iterations, keylen = salt.decode(), CRA_ITERATIONS, CRA_KEYLEN
        else:
            salt, iterations, keylen = creds.cra_salt, creds.cra_iterations, creds.cra_keylen
        challenge = json.dumps({
            "authid": authid,
            "authrole": creds.role if creds else "user",
            "authmethod": "wampcra",
            "authprovider": "wampchat",
            "nonce": base64.b64encode(os.urandom(16)).decode(),
            "timestamp": int(self._reactor.seconds() * 1000),
        })
        extra = {"challenge": challenge, "salt": salt, "iterations": iterations, "keylen": keylen}
        return Challenge("wampcra", extra, authid, creds, challenge)

    @defer.inlineCallbacks
    def authenticate(self, pending, signature, source):
        """Check the AUTHENTICATE answer; Deferred of Identity, or fails with Refusal."""
        ok, creds = False, pending.credentials
        if not isinstance(signature, str):
            signature = ""
        if pending.method == "ticket" and token_id(signature) is not None:
            owner = yield self._guarded(self._credentials.token_user, signature, pending.authid, source)
            creds = yield self._credentials_of(pending.authid, source) if owner == pending.authid else None
            ok = creds is not None
        elif pending.method == "ticket":
            creds = yield self._credentials_of(pending.authid, source)
            stored = creds.password_hash if creds else _dummy_hash()
            ok = yield deferToThreadPool(self._reactor, self._reactor.getThreadPool(),
                                         verify_password, signature, stored)
            ok = ok and creds is not None
        elif pending.method == "cryptosign":
            ok = verify_signature(pending.credentials.pubkey, pending.challenge, signature)
            creds = pending.credentials
        elif pending.method == "wampcra" and creds is not None:
            expected = compute_wcs(creds.cra_key.encode("ascii"), pending.challenge.encode("utf-8"))
            if isinstance(expected, bytes):
                expected = expected.decode("ascii")
            ok = hmac.compare_digest(expected, signature)
        if not ok:
            raise Refusal("wamp.error.not_authorized", "authentication failed")
        self.limits.login_succeeded(source, pending.authid)
        return Identity(creds.authid, creds.role, pending.method, "static")


@functools.cache
def _dummy_hash():
    """A hash to check unknown users' tickets against, so they take as long as known ones."""
    return hash_password("not a password", salt=b"\0" * 16)
