"""Pure chat-domain tests: argument checks, message ids, presence, typing, rate limits, the admin command."""
import pytest
from autobahn.wamp.exception import ApplicationError
from twisted.internet import task

from wampchat.admin import add_user_command, list_users, main as admin_main
from wampchat.chat import checks
from wampchat.storage.chat import dm_ids, mentions, message_ids
from wampchat.chat.errors import INVALID
from wampchat.chat.limits import RateWindow
from wampchat.chat.sessions import NodeSessions
from wampchat.chat.typing_timers import TypingTimers


def _error_uri(fn, *args):
    with pytest.raises(ApplicationError) as info:
        fn(*args)
    return info.value.error


@pytest.mark.parametrize("value", [None, 5, "A", "x", "has space", "a" * 33, "ünï", "a.b", ["ab"]])
def test_bad_usernames_are_invalid(value):
    """Usernames outside ^[a-z0-9_]{2,32}$, or not strings, are invalid_argument."""
    assert _error_uri(checks.check_username, value) == INVALID


@pytest.mark.parametrize("value", [None, 3, "", " ", "\n\t", "x" * 4001, b"bytes", "x" + " " * 4000,
                                   " " * 4000 + "x", "\u3000" * 5])
def test_bad_texts_are_invalid(value):
    """Text must be a string of at most 4000 characters as given (whitespace counts), not only whitespace."""
    assert _error_uri(checks.check_text, value) == INVALID


def test_text_is_kept_as_given():
    """Valid text, HTML included, is returned unchanged (never stripped or escaped)."""
    text = "  <script>alert(1)</script> & " + "x" * 3900 + "\n"
    assert checks.check_text(text) is text


def test_room_ids_for_creation_exclude_dm_prefix_and_long_ids():
    """Created rooms are 2..64 of [a-z0-9_] and may not look like DMs."""
    assert checks.check_room_id("a" * 64, creating=True) == "a" * 64
    assert _error_uri(checks.check_room_id, "a" * 65, True) == INVALID
    assert _error_uri(checks.check_room_id, "dm_ann_bob", True) == INVALID
    assert _error_uri(checks.check_room_id, "chat.room", True) == INVALID


@pytest.mark.parametrize("value", [0, 201, -1, True, 1.5, "10"])
def test_bad_limits_are_invalid(value):
    """History limits are integers 1..200 (booleans are not numbers here)."""
    assert _error_uri(checks.check_limit, value) == INVALID


def test_dm_room_id_is_order_independent():
    """Both users get the same DM id, names sorted."""
    assert dm_ids.dm_room_ids("bob", "ann")[0] == dm_ids.dm_room_ids("ann", "bob")[0] == "dm_ann_bob"
    assert dm_ids.dm_key("bob", "ann") == dm_ids.dm_key("ann", "bob") == "ann bob"


def test_room_clock_ids_grow_even_when_the_clock_stands_still_or_steps_back():
    """A room's ids strictly increase although the sender's time repeats or goes back, and look like ids."""
    clock = message_ids.RoomClock(0, 0)
    made = [clock.next(ms, n) for n, ms in enumerate([1_700_000_000_000] * 3 + [1_699_999_995_000] * 3
                                                     + [1_700_000_010_000])]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(checks.MESSAGE_ID_RE.match(i) for i in made)


def test_room_clock_carries_into_the_next_millisecond_after_9999():
    """Ten thousand ids in one millisecond move the clock on rather than overflow the sequence."""
    clock = message_ids.RoomClock(5, 9998)
    first, second = clock.next(5, 1), clock.next(5, 2)
    assert first[:17] == "00000000000059999" and second[:17] == "00000000000060000"


def test_room_clock_continues_after_legacy_ids():
    """A room migrated with its newest old id (ms + seq) hands out larger ids, whatever the old suffix."""
    legacy = "17000000010030001a7bb8c8b"
    clock = message_ids.RoomClock(int(legacy[:13]), int(legacy[13:17]))
    assert clock.next(1_600_000_000_000, 0) > legacy and clock.next(1_800_000_000_000, 1) > legacy


def test_base36_of_numbers():
    """The unique suffix is a number in base 36."""
    assert [message_ids.base36(n) for n in (0, 35, 36, 2**63)] == ["0", "z", "10", "1y2p0ij32e8e8"]


def test_presence_goes_offline_only_with_the_last_session():
    """A user with two sessions stays online until both have left."""
    presence = NodeSessions()
    assert presence.joined(1, "ann", "user", "Ann") is True
    assert presence.joined(2, "ann", "user", "Ann") is False
    assert presence.left(1)[3] is False
    assert presence.is_online("ann")
    assert presence.left(2) == ("ann", "user", "Ann", True)
    assert not presence.is_online("ann")
    assert presence.left(2) is None


def test_nick_taken_ignores_case_and_the_same_user():
    """Nick clashes are case-insensitive, and a user never clashes with itself."""
    presence = NodeSessions()
    presence.joined(1, "guest_1", "guest", "Ann")
    assert presence.nick_taken("aNN", "guest_2")
    assert not presence.nick_taken("ann", "guest_1")


def test_typing_expires_by_itself_and_restarts_on_repeat():
    """A typing state ends after the timeout; a repeated start pushes the end back."""
    clock, expired = task.Clock(), []
    timers = TypingTimers(clock, 6.0, lambda *a: expired.append(a))
    timers.start("lobby", "ann", "Ann")
    clock.advance(5)
    timers.start("lobby", "ann", "Ann")
    clock.advance(5)
    assert expired == []
    clock.advance(1.5)
    assert expired == [("lobby", "ann", "Ann")]
    assert timers.stop("lobby", "ann") is False


def test_rate_window_is_a_sliding_window_per_key():
    """N events per window per key; the window slides, keys are independent, and retry_after says when."""
    clock = task.Clock()
    limit = RateWindow(clock, 2, 10.0)
    assert limit.allow("ann") and limit.allow("ann")
    assert not limit.allow("ann")
    assert limit.retry_after("ann") == 10.0
    assert limit.allow("bob")
    clock.advance(10.01)
    assert limit.allow("ann")


def test_rate_window_forgets_only_keys_with_nothing_left_to_count():
    """Idle keys are swept once their window is empty, so memory stays bounded; busy keys keep counting."""
    clock = task.Clock()
    limit = RateWindow(clock, 2, 10.0, max_keys=3)
    for key in range(5):
        limit.allow(key)
    assert len(limit) == 3                      # past max_keys the least recently used goes first
    clock.advance(5)
    limit.allow("busy")
    limit.allow("busy")
    clock.advance(5.5)                          # the first keys' windows are empty now, busy's is not
    assert not limit.allow("busy")
    assert len(limit) == 1


# -- the admin command ---------------------------------------------------------------

def test_admin_command_adds_a_user_once(tmp_path):
    """wampchat-admin adduser stores a hashed user, refuses a duplicate and a short password."""
    import io

    db = str(tmp_path / "admin.sqlite")
    out, err = io.StringIO(), io.StringIO()
    status = admin_main(["--db", db, "adduser", "root", "--role", "admin"],
                        stdin=io.StringIO("correct horse\n"), stdout=out, stderr=err)
    assert status == 0 and "added root" in out.getvalue()
    assert list_users(db) == [("root", "admin", "root")]
    assert add_user_command(db, "root", "user", None, "another password", 1) == "user 'root' exists already"
    assert "password" in add_user_command(db, "bob", "user", None, "short", 1)
    assert "username" in add_user_command(db, "Bad Name", "user", None, "long enough", 1)
    assert list_users(db) == [("root", "admin", "root")]


# -- search queries, mentions and reactions (pure functions) ---------------------------------
from wampchat.chat.search import Term, parse_query  # noqa: E402


@pytest.mark.parametrize("text,terms", [
    ("hello", [Term(["hello"])]),
    ("Hello WORLD", [Term(["hello"]), Term(["world"])]),
    ("hel*", [Term(["hel"], prefix=True)]),
    ('"quick brown fox"', [Term(["quick", "brown", "fox"])]),
    ('"quick bro"* dog', [Term(["quick", "bro"], prefix=True), Term(["dog"])]),
    ("e-mail", [Term(["e", "mail"])]),
    ("don't stop*", [Term(["don", "t"]), Term(["stop"], prefix=True)]),
    ('a"b c"d', [Term(["a"]), Term(["b", "c"]), Term(["d"])]),
    ("bob OR NOT alice", [Term(["bob"]), Term(["or"]), Term(["not"]), Term(["alice"])]),
    ("snake_case", [Term(["snake", "case"])]),
    ("café ünïcode", [Term(["café"]), Term(["ünïcode"])]),
    ('- ! "" x', [Term(["x"])]),
])
def test_queries_parse_into_words_prefixes_and_phrases(text, terms):
    """Whitespace separates terms, punctuation separates words within a term, quotes make phrases, a
    trailing * makes a prefix; case does not matter."""
    assert list(parse_query(text).terms) == terms


@pytest.mark.parametrize("text", ["", "   ", "?!", '"open', "*", "a*", '"x"*y "', 7, None, "w " * 17, "x" * 501,
                                  '"' + " ".join(["w"] * 17) + '"'])
def test_bad_queries_are_invalid(text):
    """No words, an unclosed quote, a bare or one-letter prefix, too many terms or words, or not a string."""
    assert _error_uri(parse_query, text) == INVALID


def test_each_engine_gets_its_own_syntax_from_the_same_terms():
    """One parsed query becomes an FTS5 MATCH and a to_tsquery string that mean the same, every word quoted."""
    query = parse_query('"big red" car* boat')
    assert query.fts5() == '"big red" AND "car" * AND "boat"'
    assert query.tsquery() == "('big' <-> 'red') & 'car':* & 'boat'"
    assert parse_query('"a b cd"*').tsquery() == "('a' <-> 'b' <-> 'cd':*)"


def test_mentioned_names_skip_mail_addresses_and_repeats():
    """@names are found once each, lowercased, in order; not inside words or e-mail addresses; at most 20."""
    assert mentions.mentioned_names("@Bob hi @cid, @bob! mail ann@example.com or (@dan_1) @x @toolong" + "g" * 30) == \
        ["bob", "cid", "dan_1"]
    assert mentions.mentioned_names(" ".join(f"@user{n:02d}" for n in range(30))) == [f"user{n:02d}" for n in range(20)]


@pytest.mark.parametrize("emoji", ["👍", "👨‍👩‍👧‍👦", "🏳️‍🌈", "+1", "x" * 16, "❤️"])
def test_reactions_accept_short_texts_and_emoji_sequences(emoji):
    """Any 1..16 characters without spaces or controls, so ZWJ sequences and flags work."""
    assert checks.check_emoji(emoji) == emoji


@pytest.mark.parametrize("emoji", ["", " ", "a b", "\n", "x" * 17, None, 5, "\u2028", "\u00a0"])
def test_bad_reactions_are_invalid(emoji):
    """Blank, too long, spaced, control characters or not a string."""
    assert _error_uri(checks.check_emoji, emoji) == INVALID


# -- the send's fast path -------------------------------------------------------------------------
class _SendsHere:
    """A group commit that records what it was given and answers with a Deferred of its own."""

    def __init__(self):
        self.submitted = []
        self.answers = []

    def submit(self, request):
        from twisted.internet import defer

        self.submitted.append(request)
        self.answers.append(defer.Deferred())
        return self.answers[-1]


class _FastPathStore:
    class engine:
        shared = False

    def __init__(self):
        self.sends = _SendsHere()
        self.database = self

    def group_commit(self, fn, *args, on_batch=None, on_failure=None):
        return self.sends


def test_a_send_to_a_known_public_room_reaches_the_group_commit_with_no_coroutine_in_between():
    """The common send (a caller with a session here, a public room already cached) hands its message to the group
    commit within the call, and answers with that commit's own Deferred: no coroutine wraps the hot path."""
    from types import SimpleNamespace

    from wampchat.chat.context import ChatContext
    from wampchat.chat.messages import Messages
    from wampchat.chat.settings import ChatSettings
    from wampchat.router.metrics import Metrics

    clock, store = task.Clock(), _FastPathStore()
    ctx = ChatContext(store, SimpleNamespace(metrics=Metrics()), clock, ChatSettings())
    ctx.sessions.joined(7, "ann", "user", "Ann")
    ctx.rooms.put({"id": "lobby", "title": "Lobby", "private": False, "owner": None, "created": 0})
    messages = Messages(ctx, TypingTimers(clock, 6.0, lambda *a: None))
    details = SimpleNamespace(caller=7, caller_authid="ann", caller_authrole="user")
    answer = messages.message_send("lobby", "hello", details=details)
    assert [(r.room, r.user, r.nick, r.text) for r in store.sends.submitted] == [("lobby", "ann", "Ann", "hello")]
    assert answer is store.sends.answers[0]
