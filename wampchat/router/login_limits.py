"""
Login limits: password logins throttled per source address and per account, and new guest sessions per
address, with token buckets on the reactor's clock. A login over a limit is refused at once, before
any lookup or hashing, so guessing passwords costs the guesser time and the router nothing.
"""
import hashlib
import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from wampchat.router.auth_outcomes import Refusal


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
        self._tokens: "OrderedDict[object, tuple]" = OrderedDict()  # key -> (tokens, when counted), least recently used first

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
