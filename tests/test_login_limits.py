"""Login throttling per address and per account, and new guest sessions per address (router/login_limits.py)."""
import json

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.internet.task import Clock

from wampchat.router.auth_outcomes import Refusal
from wampchat.router.login_limits import (RATE_LIMITED, Buckets, LoginLimits, Rate, account_key, address_key,
                                          guest_rate)
from wampchat.router.credentials import make_credentials

STORE_INDEPENDENT = True
HOUR = 3600.0
A, B = "tcp4:10.0.0.1", "tcp4:10.0.0.2"


# -- the limiter on a Clock ----------------------------------------------------------------------

def refusal(call, *args) -> Refusal:
    """The Refusal ``call(*args)`` raises (fails the test if it raises none)."""
    with pytest.raises(Refusal) as info:
        call(*args)
    return info.value


def test_a_bucket_allows_its_burst_then_one_per_refill():
    """burst tokens at once, then none until a refill period has passed, and retry_after says how long."""
    clock = Clock()
    buckets = Buckets(clock, Rate(burst=3, refill=10.0))
    assert [buckets.take("k") for _ in range(4)] == [True, True, True, False]
    assert buckets.retry_after("k") == 10.0
    clock.advance(4.0)
    assert not buckets.take("k") and buckets.retry_after("k") == pytest.approx(6.0)
    clock.advance(6.0)
    assert buckets.take("k") and not buckets.take("k")
    assert buckets.take("other")


def test_buckets_forget_keys_that_are_full_again_and_never_hold_more_than_capacity():
    """Memory is bounded: idle keys expire once refilled, and the least recently used go past the cap."""
    clock = Clock()
    buckets = Buckets(clock, Rate(burst=2, refill=5.0), capacity=100)
    for n in range(1000):
        buckets.take(f"k{n}")
    assert len(buckets) == 100
    assert buckets.take("k999") and not buckets.take("k999")  # the most recent keys are kept
    clock.advance(10.0)
    buckets.take("fresh")
    assert len(buckets) == 1  # every older key is full again, so forgotten
    buckets.give_back("fresh")
    assert len(buckets) == 0  # a full bucket is not stored


def test_parallel_logins_count_when_they_start():
    """Attempts still waiting for their answer count: the account's burst+1-th start is refused at once."""
    limits = LoginLimits(Clock(), address=Rate(10, 10.0), account=Rate(3, 30.0))
    for _ in range(3):
        limits.start_login(A, "root")  # none has failed yet
    refused = refusal(limits.start_login, A, "root")
    assert refused.reason == RATE_LIMITED
    assert refused.message == "too many failed logins for this account; retry in 30 s"
    limits.start_login(A, "alice")  # the address still has tokens for other accounts


def test_a_success_clears_its_own_account_and_gives_back_only_its_own_address_token():
    """alice's success from the attacker's address neither clears root's failures nor the address's."""
    clock = Clock()
    limits = LoginLimits(clock, address=Rate(4, HOUR), account=Rate(2, HOUR))
    limits.start_login(A, "root")
    limits.start_login(A, "root")  # both failed (a failure keeps its tokens)
    limits.start_login(A, "alice")
    limits.login_succeeded(A, "alice")
    assert refusal(limits.start_login, A, "root").reason == RATE_LIMITED
    limits.start_login(A, "bob")
    limits.start_login(A, "bob")
    refused = refusal(limits.start_login, A, "alice")  # the address has used its 4: 2 root, 2 bob
    assert refused.message == "too many failed logins from this address; retry in 3600 s"
    limits.start_login(B, "alice")  # another address is not affected
    limits.login_succeeded(B, "alice")


def test_the_owners_success_clears_the_accounts_failures_from_every_address():
    """root's failures are forgotten when root logs in (from anywhere); the failing address keeps its count."""
    limits = LoginLimits(Clock(), address=Rate(3, HOUR), account=Rate(2, HOUR))
    limits.start_login(A, "root")
    limits.start_login(B, "root")
    limits.login_succeeded(B, "root")
    limits.start_login(A, "root")
    limits.start_login(A, "root")
    assert "from this address" in refusal(limits.start_login, A, "root").message


def test_refused_attempts_take_nothing():
    """A refusal for the account does not spend the address's tokens, so its other logins go on."""
    limits = LoginLimits(Clock(), address=Rate(2, HOUR), account=Rate(1, HOUR))
    limits.start_login(A, "root")
    for _ in range(5):
        refusal(limits.start_login, A, "root")
    limits.start_login(A, "alice")


def test_keys():
    """An IPv6 address counts by its /64; authids ignore case and long ones are hashed."""
    assert address_key("tcp6:2001:db8::1") == address_key("tcp6:2001:db8::ffff:1") == "tcp6:2001:db8::/64"
    assert address_key("tcp4:10.0.0.1") == "tcp4:10.0.0.1"
    assert address_key("tcp6:not-an-address") == "tcp6:not-an-address"
    assert account_key("Root") == account_key("root")
    assert len(account_key("x" * 100_000)) < 100


def test_guest_sessions_per_address():
    """--guest-rate N: N new guest sessions per address per 10 minutes; 0 means no limit."""
    clock = Clock()
    limits = LoginLimits(clock, guests=guest_rate(20))
    for _ in range(20):
        limits.start_guest(A)
    refused = refusal(limits.start_guest, A)
    assert (refused.reason, refused.message) == (RATE_LIMITED,
                                                  "too many new guest sessions from this address; retry in 30 s")
    limits.start_guest(B)
    clock.advance(30.0)
    limits.start_guest(A)
    unlimited = LoginLimits(clock, guests=guest_rate(0))
    for _ in range(1000):
        unlimited.start_guest(A)


# -- over real sockets ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def users():
    return [make_credentials(name, f"{name}-pw", role).__dict__
            for name, role in [("alice", "user"), ("root", "admin")]]


@pytest.fixture
def config_path(tmp_path, users):
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": users}))
    return str(path)


@pytest.fixture
def verifications(monkeypatch):
    """The passwords the router hashed to check a ticket, in order."""
    from wampchat.router import auth

    checked = []
    real = auth.verify_password

    def counting(password, stored):
        checked.append(password)
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", counting)
    return checked


@defer.inlineCallbacks
def login(clients, url, method, authid, secret):
    """Try to log in; the authid joined as, or the ApplicationError of the ABORT."""
    try:
        session = yield clients(url, authmethods=[method], authid=authid, secret=secret)
    except ApplicationError as e:
        return e
    return session.details.authid


def limits_args(address_burst, account_burst, config_path):
    return ["--config", config_path, "--login-address-burst", str(address_burst), "--login-address-refill", "3600",
            "--login-account-burst", str(account_burst), "--login-account-refill", "3600"]


def reasons(outcomes):
    return sorted(o.error if isinstance(o, ApplicationError) else o for o in outcomes)


@pytest_twisted.inlineCallbacks
def test_parallel_wrong_guesses_are_refused_before_hashing(make_server, clients, config_path, verifications):
    """12 ticket guesses at once: only the account's burst is hashed, the rest (and then the right password) are
    refused at once with rate_limited."""
    srv = yield make_server(limits_args(10, 3, config_path))
    guesses = [login(clients, srv.ws_url, "ticket", "root", f"guess{n}") for n in range(12)]
    outcomes = yield defer.gatherResults(guesses)
    assert reasons(outcomes) == ["wamp.error.not_authorized"] * 3 + [RATE_LIMITED] * 9
    assert len(verifications) == 3
    right = yield login(clients, srv.ws_url, "ticket", "root", "root-pw")
    assert right.error == RATE_LIMITED and "retry in" in right.args[0]
    assert len(verifications) == 3  # refused before hashing, though it was right
    assert srv.router.session_count() == 0


@pytest_twisted.inlineCallbacks
def test_parallel_wampcra_guesses_are_refused_before_the_user_lookup(make_server, clients, config_path):
    """WAMP-CRA looks the user up at HELLO: past the account's burst there is no lookup at all."""
    srv = yield make_server(limits_args(10, 2, config_path))
    credentials = srv.router.authenticator._credentials
    looked_up = []
    real = credentials.get_credentials
    credentials.get_credentials = lambda authid: looked_up.append(authid) or real(authid)
    outcomes = yield defer.gatherResults([login(clients, srv.ws_url, "wampcra", "alice", "x") for _ in range(8)])
    assert reasons(outcomes) == ["wamp.error.not_authorized"] * 2 + [RATE_LIMITED] * 6
    assert looked_up == ["alice", "alice"]
    right = yield login(clients, srv.ws_url, "wampcra", "alice", "alice-pw")
    assert right.error == RATE_LIMITED
    assert looked_up == ["alice", "alice"]


@pytest_twisted.inlineCallbacks
def test_another_accounts_success_resets_neither_the_account_nor_the_address(make_server, clients, config_path):
    """Alternating wrong root guesses with one's own right alice logins: root stays over its limit, and the
    address's failures still add up."""
    srv = yield make_server(limits_args(4, 2, config_path))
    url = srv.ws_url
    for _ in range(2):
        assert (yield login(clients, url, "ticket", "root", "wrong")).error == "wamp.error.not_authorized"
        assert (yield login(clients, url, "ticket", "alice", "alice-pw")) == "alice"
    assert (yield login(clients, url, "ticket", "root", "root-pw")).error == RATE_LIMITED
    for name in ("mallory", "bob"):
        assert (yield login(clients, url, "ticket", name, "wrong")).error == "wamp.error.not_authorized"
    refused = yield login(clients, url, "wampcra", "alice", "alice-pw")
    assert refused.error == RATE_LIMITED and "from this address" in refused.args[0]


@pytest_twisted.inlineCallbacks
def test_unknown_and_known_accounts_are_limited_alike(make_server, clients, config_path):
    """Over the limit, an unknown user and a real one get the very same refusal."""
    srv = yield make_server(limits_args(10, 1, config_path))
    first = yield defer.gatherResults([login(clients, srv.ws_url, "ticket", name, "wrong")
                                       for name in ("alice", "nobody")])
    assert [e.args for e in first] == [("authentication failed",)] * 2
    again = yield defer.gatherResults([login(clients, srv.ws_url, "ticket", name, "wrong")
                                       for name in ("alice", "nobody")])
    assert [(e.error, e.args) for e in again] == [(RATE_LIMITED, ("too many failed logins for this account; "
                                                                  "retry in 3600 s",))] * 2


@pytest_twisted.inlineCallbacks
def test_new_guest_sessions_are_limited_per_address(make_server, clients):
    """--guest-rate 3: the fourth new guest session from 127.0.0.1 within 10 minutes is refused at HELLO."""
    srv = yield make_server(["--guest-rate", "3"])
    guests = yield defer.gatherResults([clients(srv.ws_url) for _ in range(3)])
    assert len({g.details.authid for g in guests}) == 3
    with pytest.raises(ApplicationError) as info:
        yield clients(srv.ws_url, authextra={"nick": "Another"})
    assert info.value.error == RATE_LIMITED
    assert info.value.args[0] == "too many new guest sessions from this address; retry in 200 s"
    assert srv.router.session_count() == 3


def test_defaults_hold_against_many_logins_from_one_address():
    """The defaults (no options given) are the ones README documents."""
    from wampchat.node import login_limits
    from wampchat.tap import Options

    options = Options()
    options.parseOptions(["--db", ":memory:"])
    limits = login_limits(options, Clock())
    assert limits.addresses.rate == Rate(10, 10.0)
    assert limits.accounts.rate == Rate(5, 30.0)
    assert limits.guests.rate == Rate(20, 30.0)
