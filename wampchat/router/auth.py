"""
Authentication: anonymous (guests), ticket and WAMP-CRA.

Every method answers unknown users and wrong passwords the same way, and
:class:`LoginLimits` throttles password logins per source address and per
account, and new guest sessions per address, refusing at once (before any
lookup or hashing) while a limit is reached.
"""
import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from autobahn.wamp.auth import compute_wcs
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from wampchat.names import NAME_MAX, NameRefused, normalize_display_name
from wampchat.router.credentials import (CRA_ITERATIONS, CRA_KEYLEN, UNAVAILABLE, CredentialsUnavailable,
                                         hash_password, verify_password)
from wampchat.router.outage import OutageNotice

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


@dataclass(frozen=True)
class Rate:
    """A token bucket's shape: ``burst`` at once, then one more every ``refill`` seconds."""

    burst: int
    refill: float


class Buckets:
    """Token buckets by key on the reactor's clock, at most ``capacity`` keys.

    A key that has had no use for long enough to be full again is the same as
    no key at all, so such entries are forgotten (oldest first, on each use);
    past ``capacity`` the least recently used key is forgotten too, which
    keeps memory bounded whatever the keys are.
    """

    def __init__(self, clock, rate: Rate, capacity: int = 100_000):
        self._clock = clock
        self.rate = rate
        self._capacity = capacity
        self._tokens = OrderedDict()  # key -> (tokens, when counted), least recently used first

    def __len__(self) -> int:
        return len(self._tokens)

    def available(self, key) -> float:
        """The tokens ``key`` has now (``burst`` for a key never seen)."""
        return self._current(key, self._clock.seconds())

    def retry_after(self, key) -> float:
        """Seconds until ``key`` has a whole token (0 if it has one now)."""
        return max(0.0, (1.0 - self.available(key)) * self.rate.refill)

    def take(self, key) -> bool:
        """Take one token if ``key`` has one; False (and nothing taken) if it has none."""
        now = self._clock.seconds()
        tokens = self._current(key, now)
        if tokens < 1.0:
            return False
        self._store(key, tokens - 1.0, now)
        return True

    def give_back(self, key) -> None:
        """Return one token taken by an attempt that turned out not to count."""
        now = self._clock.seconds()
        self._store(key, self._current(key, now) + 1.0, now)

    def reset(self, key) -> None:
        """Forget ``key``: it is full again."""
        self._tokens.pop(key, None)

    def _current(self, key, now: float) -> float:
        entry = self._tokens.get(key)
        if entry is None:
            return float(self.rate.burst)
        tokens, then = entry
        return min(float(self.rate.burst), tokens + (now - then) / self.rate.refill)

    def _store(self, key, tokens: float, now: float) -> None:
        self._tokens.pop(key, None)
        if tokens < self.rate.burst:
            self._tokens[key] = (tokens, now)
        self._expire(now)

    def _expire(self, now: float) -> None:
        """Drop the least recently used keys while they are full again, or while there are too many."""
        while self._tokens:
            key, (tokens, then) = next(iter(self._tokens.items()))
            full = tokens + (now - then) / self.rate.refill >= self.rate.burst
            if not full and len(self._tokens) <= self._capacity:
                return
            del self._tokens[key]


RATE_LIMITED = "wampchat.error.rate_limited"
GUEST_WINDOW = 600.0  # --guest-rate counts new guest sessions per this many seconds
DEFAULT_ADDRESS_RATE = Rate(10, 10.0)
DEFAULT_ACCOUNT_RATE = Rate(5, 30.0)
DEFAULT_GUEST_RATE = 20


def guest_rate(per_window: int) -> Optional[Rate]:
    """The bucket for ``--guest-rate``: ``per_window`` new guests per 10 minutes, or None (0 = no limit)."""
    return Rate(per_window, GUEST_WINDOW / per_window) if per_window else None


class LoginLimits:
    """Login throttling by source address and by account (authid), and new guests by address.

    A password login (ticket or WAMP-CRA) takes a token from its address's
    bucket and from its account's bucket when its HELLO arrives, so guesses
    in flight count before any is answered. A failure keeps both tokens. A
    success gives its own token back to the address (so one's own logins
    neither cost nor clear anything there) and forgets the account's
    failures, whoever logged in. While either bucket is empty, logins are
    refused at once, before any lookup or hashing, right password or not.
    Unknown accounts have buckets like known ones, so the refusals tell
    nothing about which accounts exist.
    """

    def __init__(self, clock, address: Rate = DEFAULT_ADDRESS_RATE, account: Rate = DEFAULT_ACCOUNT_RATE,
                 guests: Optional[Rate] = guest_rate(DEFAULT_GUEST_RATE), capacity: int = 100_000):
        self.addresses = Buckets(clock, address, capacity)
        self.accounts = Buckets(clock, account, capacity)
        self.guests = Buckets(clock, guests, capacity) if guests else None

    def start_login(self, source: str, authid: str) -> None:
        """Count a password login from ``source`` as ``authid``; raise Refusal while either is over its limit."""
        address, account = address_key(source), account_key(authid)
        if self.addresses.available(address) < 1.0:
            raise _rate_limited("too many failed logins from this address", self.addresses.retry_after(address))
        if not self.accounts.take(account):
            raise _rate_limited("too many failed logins for this account", self.accounts.retry_after(account))
        self.addresses.take(address)

    def login_succeeded(self, source: str, authid: str) -> None:
        """The login counted by :meth:`start_login` was right: give its address token back, clear the account."""
        self.addresses.give_back(address_key(source))
        self.accounts.reset(account_key(authid))

    def login_unanswered(self, source: str, authid: str) -> None:
        """The login counted by :meth:`start_login` could not be checked (the user store is away): it is no
        guess, so both its tokens go back."""
        self.addresses.give_back(address_key(source))
        self.accounts.give_back(account_key(authid))

    def start_guest(self, source: str) -> None:
        """Count a new guest session from ``source``; raise Refusal while the address is over --guest-rate."""
        if self.guests is None:
            return
        key = address_key(source)
        if not self.guests.take(key):
            raise _rate_limited("too many new guest sessions from this address", self.guests.retry_after(key))


def _rate_limited(what: str, seconds: float) -> Refusal:
    return Refusal(RATE_LIMITED, f"{what}; retry in {max(1, math.ceil(seconds))} s")


def address_key(source: str) -> str:
    """The bucket of a source address: the address itself, or its /64 for IPv6 (one host often has a /64)."""
    if source.startswith("tcp6:"):
        try:
            return "tcp6:" + str(ipaddress.ip_network(source[5:] + "/64", strict=False))
        except ValueError:
            return source
    return source


def account_key(authid: str) -> str:
    """The bucket of an authid: case-folded, and long ones hashed so keys stay small."""
    key = authid.casefold()
    if len(key) > 128:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


class Authenticator:
    """Runs the HELLO -> (CHALLENGE -> AUTHENTICATE) -> identity exchange."""

    METHODS = ("anonymous", "ticket", "wampcra")

    def __init__(self, reactor, credentials, allow_guests=True, limits: Optional[LoginLimits] = None):
        self._reactor = reactor
        self._credentials = credentials
        self.allow_guests = allow_guests
        self.limits = limits or LoginLimits(reactor)
        self._secret = os.urandom(32)
        self._outage = OutageNotice(reactor, "the user store (logins)")

    @defer.inlineCallbacks
    def _credentials_of(self, authid, source):
        """The stored credentials of ``authid`` (or None); while the store is away, the login is refused as
        ``unavailable`` (a state to retry, one warning per outage) and not counted as a guess."""
        try:
            creds = yield self._credentials.get_credentials(authid)
        except CredentialsUnavailable as e:
            self._outage.refused(e)
            self.limits.login_unanswered(source, authid)
            raise Refusal(UNAVAILABLE, "the user database is unavailable; try again shortly")
        self._outage.recovered()
        return creds

    def hello(self, hello, source):
        """Deferred firing with an Identity or a Challenge; fails with Refusal."""
        methods = hello.authmethods or ["anonymous"]
        for method in methods:
            if method == "anonymous" and self.allow_guests:
                return self._anonymous(hello, source)
            if method in ("ticket", "wampcra") and hello.authid:
                return self._password_challenge(method, hello.authid, source)
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

    def _anonymous(self, hello, source):
        try:
            self.limits.start_guest(source)
        except Refusal as refusal:
            return defer.fail(refusal)
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
        if pending.method == "ticket":
            creds = yield self._credentials_of(pending.authid, source)
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
            raise Refusal("wamp.error.not_authorized", "authentication failed")
        self.limits.login_succeeded(source, pending.authid)
        return Identity(creds.authid, creds.role, pending.method, "static")


@functools.cache
def _dummy_hash():
    """A hash to check unknown users' tickets against, so they take as long as known ones."""
    return hash_password("not a password", salt=b"\0" * 16)
