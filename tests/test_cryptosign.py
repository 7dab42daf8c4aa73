"""API §11 WAMP-Cryptosign (Ed25519) over real sockets, on both stores: keys put on file with wampchat-admin
addkey or listed in the config file; Autobahn|Python and AutobahnJS log in with them; unknown keys, a key of
another authid and bad signatures are refused."""
import io
import json
import os

import pytest
import pytest_twisted
from autobahn.wamp.cryptosign import CryptosignKey
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import make_world, world  # noqa: F401 (fixtures)
from nodejs import NODE, have_node_module, spawn_node
from wampchat.admin import main as admin_main
from wampchat.router.cryptosign import verify_signature

NOT_AUTHORIZED = "wamp.error.not_authorized"


def new_key():
    return CryptosignKey.from_bytes(os.urandom(32))


def addkey(world, username, key):
    out, err = io.StringIO(), io.StringIO()
    status = admin_main(["--db", world.db, "addkey", username, key.public_key()], stdout=out, stderr=err)
    return status, out.getvalue() + err.getvalue()


def key_login(world, key, authid=None, pubkey=None):
    return world.connect(authmethods=["cryptosign"], authid=authid, secret=key,
                         authextra={"pubkey": pubkey or key.public_key()})


@defer.inlineCallbacks
def refusal(d):
    try:
        yield d
    except ApplicationError as e:
        return e.error
    raise AssertionError("logged in")


@pytest_twisted.inlineCallbacks
def test_autobahn_python_logs_in_with_a_key_put_on_file_by_wampchat_admin(world):
    yield world.register("ann")
    key = new_key()
    assert addkey(world, "ann", key) == (0, "added a Cryptosign key for ann\n")
    session = yield key_login(world, key)
    assert (session._authid, session._authrole, session._authmethod) == ("ann", "user", "cryptosign")
    assert (yield session.call("chat.user.me"))["user"] == "ann"
    session = yield key_login(world, key, authid="ann")
    assert (yield session.call("chat.user.me"))["user"] == "ann"


@pytest_twisted.inlineCallbacks
def test_unknown_keys_other_authids_and_bad_signatures_are_refused(world):
    yield world.register("ann")
    yield world.register("bob")
    key, stranger = new_key(), new_key()
    addkey(world, "ann", key)
    assert (yield refusal(key_login(world, stranger))) == NOT_AUTHORIZED
    assert (yield refusal(key_login(world, key, authid="bob"))) == NOT_AUTHORIZED
    assert (yield refusal(key_login(world, stranger, pubkey=key.public_key()))) == NOT_AUTHORIZED  # signs wrong
    assert (yield refusal(key_login(world, key, pubkey="zz"))) == NOT_AUTHORIZED
    assert addkey(world, "bob", key)[0] == 1                # a key belongs to one user
    assert addkey(world, "nobody", new_key()) == (1, "wampchat-admin: no user 'nobody'\n")


def test_signatures_are_checked_byte_for_byte():
    key, challenge = new_key(), os.urandom(32)
    signature = key._key.sign(challenge).signature.hex()
    pubkey = key.public_key()
    assert verify_signature(pubkey, challenge, signature + challenge.hex())
    assert verify_signature(pubkey, challenge, signature)
    assert not verify_signature(pubkey, challenge, signature + os.urandom(32).hex())   # another challenge
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    for bad in (flipped, signature[:-2], "", "xyz", None, 7):
        assert not verify_signature(pubkey, challenge, bad), bad


@pytest_twisted.inlineCallbacks
def test_a_service_key_from_the_config_file_logs_in_with_its_role(make_world, tmp_path):
    key = new_key()
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"keys": [{"authid": "deployer", "role": "service", "pubkey": key.public_key()}]}))
    world = yield make_world(["--config", str(config)])
    session = yield key_login(world, key)
    assert (session._authid, session._authrole) == ("deployer", "service")
    yield session.register(lambda: "ok", "svc.deploy")     # the service role may register svc.*
    assert (yield session.call("svc.deploy")) == "ok"


@pytest.mark.skipif(NODE is None or not have_node_module("tweetnacl"),
                    reason="needs node and tests/js/node_modules (run `npm ci` in tests/js)")
@pytest_twisted.inlineCallbacks
def test_autobahnjs_logs_in_with_cryptosign(world):
    yield world.register("ann")
    seed = os.urandom(32)
    addkey(world, "ann", CryptosignKey.from_bytes(seed))
    lines = []
    for args in ([seed.hex()], [seed.hex(), "bob"], [os.urandom(32).hex()]):
        proc = spawn_node("cryptosign_login.js", [world.server.ws_url, *args], timeout=30)
        assert (yield proc.ended) == 0, proc.report()
        lines.append(proc.lines()[0])
    assert lines[0] == {"joined": {"authid": "ann", "authrole": "user", "authmethod": "cryptosign"},
                        "me": {"user": "ann", "nick": "ann", "role": "user"}}
    assert lines[1] == lines[2] == {"refused": NOT_AUTHORIZED}
