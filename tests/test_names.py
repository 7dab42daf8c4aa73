"""Names that look like someone else's (zero-width characters, Cyrillic letters in a Latin name, fullwidth forms,
direction overrides) are refused or count as the name they look like: the rules of wampchat.names, then guests,
registration and the migration of stored keys over real sockets on each store."""
import re

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from chatkit import PASSWORD, ChatWorld, error_of, leave, world  # noqa: F401 (fixtures)
from wampchat.storage.chat.rows import name_key
from wampchat.chat.sessions import NodeSessions
from wampchat.names import NAME_MAX, NameRefused, name_skeleton, normalize_display_name
from wampchat.storage import migrations, prepare_database, run_sync
from wampchat.storage.engines import engine_for

INVALID = "wampchat.error.invalid_argument"
CONFLICT = "wampchat.error.conflict"


# -- the rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    ("alice\u200b", "U+200B (ZERO WIDTH SPACE), an invisible"),
    ("boss\ufeff", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
    ("\u202eecila", "U+202E (RIGHT-TO-LEFT OVERRIDE), an invisible or direction-changing"),
    ("\u2067bob\u2069", "U+2067 (RIGHT-TO-LEFT ISOLATE)"),
    ("\u0430lice", "mix scripts (Cyrillic, Latin)"),
    ("p\u0430ypal", "mix scripts (Cyrillic, Latin)"),
    ("\u0391lpha", "mix scripts (Greek, Latin)"),
    ("bell\x07", "U+0007, a control character"),
    ("tab\there", "U+0009, a control character"),
    ("two\u2028lines", "a line separator"),
    ("para\u2029graph", "a paragraph separator"),
    ("\ue000", "a private-use character"),
    ("\u0378x", "an unassigned code point"),
    ("\ud800", "a surrogate"),
    ("\u3164", "shows nothing"),
    ("\u2800", "shows nothing"),
    ("<b>x</b>", "U+003C (LESS-THAN SIGN)"),
    ("\uff1cscript\uff1e", "U+003C (LESS-THAN SIGN)"),  # fullwidth < is < once normalised
    ("e" + "\u0301" * 6, "more than 4 combining marks"),
    ("", "1..32 characters"),
    ("   ", "1..32 characters"),
    ("x" * (NAME_MAX + 1), "1..32 characters"),
    ("x" * 10_000, "at most 32 characters"),
    (42, "must be a string"),
    (None, "must be a string"),
])
def test_a_name_that_could_pass_for_another_is_refused_saying_why(name, reason):
    with pytest.raises(NameRefused, match=re.escape(reason)):
        normalize_display_name(name)


@pytest.mark.parametrize("name, shown", [
    ("\uff42\uff4f\uff53\uff53", "boss"),  # fullwidth
    ("  Ann   Lee ", "Ann Lee"),
    ("Ann\u3000Lee", "Ann Lee"),  # ideographic space
    ("\ufb01sh", "fish"),  # the fi ligature
    ("Ann\t", "Ann"),  # around the name is trimmed, as before
])
def test_a_name_is_kept_in_its_nfkc_form(name, shown):
    assert normalize_display_name(name) == shown
    assert normalize_display_name(shown) == shown


@pytest.mark.parametrize("name", [
    "alice", "O'Brien", "Jean-Luc", "R2-D2", "user_01", "Zoë", "Ann 🙂", "❤️",
    "Иван", "Αλέξης", "שלום", "محمد", "山田たろう", "ヤマダ", "王小明", "김철수", "Иван 2",
])
def test_a_name_in_one_script_with_digits_punctuation_and_emoji_is_accepted(name):
    """Common characters (digits, spaces, punctuation, emoji) and marks go with any script; Han goes with kana
    and Hangul as Japanese and Korean are written."""
    assert normalize_display_name(name) == name


@pytest.mark.parametrize("lookalike, name", [
    ("\u0430lice", "alice"),  # Cyrillic а
    ("\u0430\u0440\u0435", "ape"),  # all Cyrillic: accepted as a name, but it is "ape"
    ("\u0441\u043e\u0440\u0430", "copa"),
    ("ALICE", "alice"),
    ("\uff42\uff4f\uff53\uff53", "boss"),
    ("boss\ufeff", "boss"),
    ("alice\u200b", "alice"),
    ("bi11", "bill"),
    ("rnike", "mike"),
    ("Ann  Lee", "ann lee"),
    ("\u212bngstr\u00f6m", "\u00c5ngstr\u00f6m"),  # the angstrom sign is Å
])
def test_names_that_look_alike_have_one_key(lookalike, name):
    assert name_skeleton(lookalike) == name_skeleton(name)
    assert name_key(lookalike) == name_skeleton(name)


@pytest.mark.parametrize("one, other", [("alice", "alicia"), ("Ann", "Anne"), ("Zoë", "Zoe"), ("Иван", "Ivan")])
def test_names_that_differ_keep_different_keys(one, other):
    assert name_skeleton(one) != name_skeleton(other)


def test_an_online_nick_is_taken_by_what_it_looks_like():
    presence = NodeSessions()
    presence.joined(1, "guest_1", "guest", "copa")
    assert presence.nick_taken("COPA", "guest_2")
    assert presence.nick_taken("\u0441\u043e\u0440\u0430", "guest_2")
    assert not presence.nick_taken("\u0441\u043e\u0440\u0430", "guest_1")
    presence.left(1)
    assert not presence.nick_taken("copa", "guest_2")


# -- over real sockets ----------------------------------------------------------------------

@defer.inlineCallbacks
def refusal_of(d):
    """The ApplicationError a join or call fails with (fails the test if it succeeds)."""
    try:
        result = yield d
    except ApplicationError as e:
        return e
    raise AssertionError(f"expected a refusal, got {result!r}")


@pytest.mark.parametrize("nick, reason", [
    ("\u0430lice", "mix scripts (Cyrillic, Latin)"),
    ("alice\u200b", "U+200B (ZERO WIDTH SPACE)"),
    ("\u202eecila", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
])
@pytest_twisted.inlineCallbacks
def test_a_guest_with_a_lookalike_nick_is_aborted_with_the_reason(world, nick, reason):
    refused = yield refusal_of(world.guest(nick))
    assert refused.error == "wamp.error.invalid_argument"
    assert refused.args[0].startswith("invalid nick: ") and reason in refused.args[0]
    assert world.server.router.session_count() == 0


@pytest_twisted.inlineCallbacks
def test_a_fullwidth_nick_is_shown_in_its_plain_form(world):
    guest = yield world.guest("\uff42\uff4f\uff53\uff53")
    assert guest.details.authextra == {"nick": "boss"}
    assert (yield guest.call("chat.user.me"))["nick"] == "boss"


@pytest_twisted.inlineCallbacks
def test_a_guest_nick_that_looks_like_an_online_nick_is_taken(world):
    yield world.guest("copa")
    for lookalike in ("COPA", "\u0441\u043e\u0440\u0430", "\uff43\uff4f\uff50\uff41"):
        refused = yield refusal_of(world.guest(lookalike))
        assert refused.error == CONFLICT and "looks like a name in use" in refused.args[0]


@pytest_twisted.inlineCallbacks
def test_a_guest_nick_that_looks_like_an_account_name_is_taken(world):
    """Both the display name and the username count, by what they look like (``mike`` has the key ``rnike``)."""
    guest = yield world.guest("Gus")
    yield guest.call("chat.user.register", "mike", PASSWORD, display_name="copa")
    for lookalike in ("\u0441\u043e\u0440\u0430", "COPA", "rnike", "MIKE"):
        refused = yield refusal_of(world.guest(lookalike))
        assert refused.error == CONFLICT, lookalike
    assert (yield world.guest("mika")).details.authextra == {"nick": "mika"}


@pytest_twisted.inlineCallbacks
def test_a_display_name_or_username_that_looks_like_an_account_name_conflicts(world):
    guest = yield world.guest("Gus")
    yield guest.call("chat.user.register", "ann", PASSWORD, display_name="copa")
    assert (yield error_of(guest.call("chat.user.register", "bob", PASSWORD,
                                      display_name="\u0441\u043e\u0440\u0430"))) == CONFLICT
    assert (yield error_of(guest.call("chat.user.register", "bob", PASSWORD, display_name="ANN"))) == CONFLICT
    assert (yield error_of(guest.call("chat.user.register", "copa", PASSWORD))) == CONFLICT  # a display name
    refused = yield refusal_of(guest.call("chat.user.register", "bob", PASSWORD, display_name="copa\u200b"))
    assert refused.error == INVALID and "U+200B" in refused.args[0]
    refused = yield refusal_of(guest.call("chat.user.register", "bob", PASSWORD, display_name="\u0430nn"))
    assert refused.error == INVALID and "mix scripts" in refused.args[0]
    assert (yield guest.call("chat.user.register", "bob", PASSWORD, display_name="Bob")) == {
        "user": "bob", "nick": "Bob", "role": "user"}


@pytest_twisted.inlineCallbacks
def test_registering_a_name_another_online_user_shows_conflicts_but_ones_own_nick_does_not(world):
    yield world.guest("sam")
    carol = yield world.guest("Carol")
    assert (yield error_of(carol.call("chat.user.register", "sam", PASSWORD))) == CONFLICT
    assert (yield error_of(carol.call("chat.user.register", "carla", PASSWORD, display_name="SAM"))) == CONFLICT
    assert (yield carol.call("chat.user.register", "carol", PASSWORD, display_name="Carol"))["nick"] == "Carol"


# -- stored keys -----------------------------------------------------------------------------

def database_at_version_5(db_url, monkeypatch):
    """A database migrated to version 5, holding names with version-5 (case-folded) keys."""
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
        patched.setattr(migrations, "LATEST_VERSION", 5)
        prepare_database(db_url)

    def add_rows(tx):
        for username, display_name in (("mom", "Mother"), ("ann", "copa"), ("zed", None)):
            tx.execute("INSERT INTO users (username, role, display_name, display_key, password_hash, cra_salt, "
                       "cra_key, cra_iterations, cra_keylen, created) VALUES (?, 'user', ?, ?, 'x', 'x', 'x', 1, 1, 0)",
                       (username, display_name, (display_name or username).casefold()))
        tx.execute("INSERT INTO online (username, node, role, nick, nick_key) "
                   "VALUES ('guest_00000001', 'gone', 'guest', 'R2-D2', 'r2-d2')")

    run(db_url, add_rows)


def run(db_url, work):
    engine = engine_for(db_url)
    conn = engine.connect()
    try:
        return run_sync(engine, conn, work)
    finally:
        conn.close()


def test_version_6_recomputes_every_stored_key_as_a_skeleton(db_url, monkeypatch):
    database_at_version_5(db_url, monkeypatch)
    prepare_database(db_url)
    users = run(db_url, lambda tx: tx.query("SELECT username, username_key, display_key FROM users "
                                            "ORDER BY username"))
    online = run(db_url, lambda tx: tx.query("SELECT nick_key FROM online"))
    assert [(u["username"], u["username_key"], u["display_key"]) for u in users] == [
        ("ann", name_skeleton("ann"), name_skeleton("copa")),
        ("mom", "rnorn", name_skeleton("Mother")),
        ("zed", "zed", "zed")]
    assert [row["nick_key"] for row in online] == [name_skeleton("R2-D2")]


@pytest_twisted.ensureDeferred
async def test_after_version_6_a_lookalike_of_an_old_account_is_taken(db_url, monkeypatch, tmp_path):
    database_at_version_5(db_url, monkeypatch)
    world = ChatWorld(tmp_path, db_url)
    await world.start()
    try:
        for lookalike in ("MOM", "rnom", "\u0441\u043e\u0440\u0430"):
            refused = await refusal_of(world.guest(lookalike))
            assert refused.error == CONFLICT, lookalike
        guest = await world.guest("Gus")
        assert await error_of(guest.call("chat.user.register", "rnorn", PASSWORD)) == CONFLICT
        await leave(guest)
    finally:
        await world.stop()
