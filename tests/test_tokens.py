"""API §11 API tokens over real sockets, on both stores: made with chat.user.create_token or wampchat-admin
token, shown once and stored hashed, listed and revoked by their owner, logging in as ticket."""
import io

import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import error_of, world  # noqa: F401 (fixtures)
from wampchat.admin import main as admin_main
from wampchat.router.tokens import token_hash
from wampchat.storage import engine_for, run_sync

NOT_AUTHORIZED = "wamp.error.not_authorized"
FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@defer.inlineCallbacks
def login_refusal(world, username, ticket):
    """The ABORT reason a ticket login is refused with (fails the test if it is let in)."""
    try:
        yield world.connect(authmethods=["ticket"], authid=username, secret=ticket)
    except ApplicationError as e:
        return e.error
    raise AssertionError(f"{username} logged in with {ticket!r}")


def stored_hashes(db):
    engine = engine_for(db)
    conn = engine.connect()
    try:
        rows = run_sync(engine, conn, lambda tx: tx.query("SELECT token_hash FROM api_tokens"))
        return [row["token_hash"] for row in rows]
    finally:
        conn.close()


@pytest_twisted.inlineCallbacks
def test_a_token_logs_in_as_ticket_and_is_listed_with_its_last_use(world):
    ann = yield world.user("ann")
    made = yield ann.call("chat.user.create_token", "ci")
    assert set(made) == {"id", "name", "token"} and made["name"] == "ci"
    assert stored_hashes(world.db) == [token_hash(made["token"])]     # the hash, never the token
    listed = yield ann.call("chat.user.tokens")
    assert listed == [{"id": made["id"], "name": "ci", "created": listed[0]["created"], "last_used": None}]
    by_token = yield world.connect(authmethods=["ticket"], authid="ann", secret=made["token"])
    assert by_token._authid == "ann" and by_token._authrole == "user"
    assert (yield by_token.call("chat.user.me"))["user"] == "ann"
    assert (yield ann.call("chat.user.tokens"))[0]["last_used"] is not None


@pytest_twisted.inlineCallbacks
def test_revoked_forged_and_someone_elses_tokens_are_refused(world):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    token = (yield ann.call("chat.user.create_token", "x"))["token"]
    assert (yield login_refusal(world, "bob", token)) == NOT_AUTHORIZED          # ann's token is not bob's
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (yield login_refusal(world, "ann", forged)) == NOT_AUTHORIZED
    token_id = (yield ann.call("chat.user.tokens"))[0]["id"]
    assert (yield error_of(bob.call("chat.user.revoke_token", token_id))) == NOT_FOUND  # only its owner
    assert (yield ann.call("chat.user.revoke_token", token_id)) == {"id": token_id, "revoked": True}
    assert (yield login_refusal(world, "ann", token)) == NOT_AUTHORIZED
    assert (yield ann.call("chat.user.tokens")) == []
    assert (yield error_of(ann.call("chat.user.revoke_token", token_id))) == NOT_FOUND
    yield world.connect(authmethods=["ticket"], authid="ann", secret="a long password")   # the password still


@pytest_twisted.inlineCallbacks
def test_guests_have_no_tokens_and_bad_names_are_refused(world):
    guest = yield world.guest("Gus")
    for procedure in ("chat.user.create_token", "chat.user.tokens"):
        assert (yield error_of(guest.call(procedure))) == FORBIDDEN
    ann = yield world.user("ann")
    for bad in ("", "  ", "x" * 65, 42, "a\nb"):
        assert (yield error_of(ann.call("chat.user.create_token", bad))) == INVALID, bad
    assert (yield ann.call("chat.user.create_token"))["name"] == "api"
    assert (yield error_of(ann.call("chat.user.revoke_token", 7))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_wampchat_admin_token_prints_a_token_once_that_logs_in(world):
    yield world.register("ann")
    out, err = io.StringIO(), io.StringIO()
    assert admin_main(["--db", world.db, "token", "ann", "--name", "deploy"], stdout=out, stderr=err) == 0
    token = out.getvalue().strip()
    session = yield world.connect(authmethods=["ticket"], authid="ann", secret=token)
    assert (yield session.call("chat.user.tokens"))[0]["name"] == "deploy"
    assert admin_main(["--db", world.db, "token", "nobody"], stdout=out, stderr=err) == 1
    assert "no user 'nobody'" in err.getvalue()
