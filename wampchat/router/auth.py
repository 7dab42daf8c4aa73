"""
Authentication: anonymous (guests), ticket and WAMP-CRA.

Every method answers unknown users and wrong passwords the same way, and a
per-source-address back-off delays the answer to repeated failures so that
guessing is slow.
"""
import base64
import functools
import hashlib
import hmac
import json
import os
from collections import OrderedDict

from autobahn.wamp.auth import compute_wcs
from twisted.internet import defer
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool

from wampchat.names import NAME_MAX, NameRefused, normalize_display_name
from wampchat.router.credentials import CRA_ITERATIONS, CRA_KEYLEN, hash_password, verify_password

GUEST_ROLE = "guest"
NICK_MAX = NAME_MAX


class Identity:
    """The outcome of a successful authentication."""

    __slots__ = ("authid", "authrole", "authmethod", "authprovider", "authextra")

    def __init__(self, authid, authrole, authmethod, authprovider="static", authextra=None):
        self.authid = authid
        self.authrole = authrole
        self.authmethod = authmethod
        self.authprovider = authprovider
        self.authextra = authextra or {}


class Challenge:
    """A pending challenge: what to send, and the state to check the answer."""

    def __init__(self, method, extra, authid, credentials=None, challenge=None):
        self.method = method
        self.extra = extra
        self.authid = authid
        self.credentials = credentials
        self.challenge = challenge


class Refusal(Exception):
    """Authentication failed: ABORT with ``reason`` (a WAMP error URI)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def validate_nick(nick: object) -> str:
    """A display nick as shown (NFKC, trimmed); NameRefused, saying why, for one that is empty, too long, holds
    invisible or direction-changing characters or mixes scripts (the rules of :mod:`wampchat.names`)."""
    return normalize_display_name(nick)


class Backoff:
    """Per-source-address delay after failed logins, doubling up to ``max_delay``."""

    def __init__(self, clock, max_delay=8.0, base=0.25, capacity=10000):
        self._clock = clock
        self._max = max_delay
        self._base = base
        self._capacity = capacity
        self._failures = OrderedDict()

    def delay(self, source):
        count = self._failures.get(source, 0)
        return 0.0 if count == 0 else min(self._max, self._base * 2 ** (count - 1))

    def failed(self, source):
        self._failures[source] = self._failures.pop(source, 0) + 1
        while len(self._failures) > self._capacity:
            self._failures.popitem(last=False)

    def succeeded(self, source):
        self._failures.pop(source, None)


class Authenticator:
    """Runs the HELLO -> (CHALLENGE -> AUTHENTICATE) -> identity exchange."""

    METHODS = ("anonymous", "ticket", "wampcra")

    def __init__(self, reactor, credentials, allow_guests=True, backoff=None):
        self._reactor = reactor
        self._credentials = credentials
        self.allow_guests = allow_guests
        self.backoff = backoff or Backoff(reactor)
        self._secret = os.urandom(32)

    def _refuse(self, source, reason, text):
        """Fail after the source's back-off delay, and make the next one slower."""
        delay = self.backoff.delay(source)
        self.backoff.failed(source)
        d = deferLater(self._reactor, delay, lambda: None) if delay else defer.succeed(None)

        def fail(_):
            raise Refusal(reason, text)

        return d.addCallback(fail)

    def hello(self, hello, source):
        """Deferred firing with an Identity or a Challenge; fails with Refusal."""
        methods = hello.authmethods or ["anonymous"]
        for method in methods:
            if method == "anonymous" and self.allow_guests:
                return self._anonymous(hello)
            if method == "ticket" and hello.authid:
                return defer.succeed(Challenge("ticket", {}, hello.authid))
            if method == "wampcra" and hello.authid:
                return self._cra_challenge(hello.authid)
        return defer.fail(Refusal("wamp.error.no_auth_method",
                                  "no acceptable authmethod (offered: %s)" % ", ".join(map(str, methods))))

    def _anonymous(self, hello):
        extra = hello.authextra or {}
        authid = "guest_" + os.urandom(4).hex()
        nick = authid
        if extra.get("nick") is not None:
            try:
                nick = validate_nick(extra.get("nick"))
            except NameRefused as refused:
                return defer.fail(Refusal("wamp.error.invalid_argument", f"invalid nick: {refused}"))
        return defer.succeed(Identity(authid, GUEST_ROLE, "anonymous", "anonymous", {"nick": nick}))

    @defer.inlineCallbacks
    def _cra_challenge(self, authid):
        creds = yield self._credentials.get_credentials(authid)
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
        if pending.method == "ticket":
            creds = yield self._credentials.get_credentials(pending.authid)
            stored = creds.password_hash if creds else _dummy_hash()
            ok = yield deferToThreadPool(self._reactor, self._reactor.getThreadPool(),
                                         verify_password, signature, stored)
            ok = ok and creds is not None
        elif pending.method == "wampcra" and creds is not None:
            expected = compute_wcs(creds.cra_key.encode("ascii"), pending.challenge.encode("utf-8"))
            if isinstance(expected, bytes):
                expected = expected.decode("ascii")
            ok = hmac.compare_digest(expected, signature)
        if not ok:
            yield self._refuse(source, "wamp.error.not_authorized", "authentication failed")
        self.backoff.succeeded(source)
        return Identity(creds.authid, creds.role, pending.method, "static")


@functools.cache
def _dummy_hash():
    """A hash to check unknown users' tickets against, so they take as long as known ones."""
    return hash_password("not a password", salt=b"\0" * 16)
