"""Mentions, full-text search, reactions and catching up on changes (API.md §4–5), over real sockets on both
stores, with the people who must not see a private room's messages trying to."""
import pytest
import pytest_twisted
from twisted.internet import defer

from chatkit import error_of, leave, payloads, world, make_world  # noqa: F401 (fixtures)
from helpers import poll_until
from wampchat.storage.chat.sends import TOO_MANY, SendRate, SendRequest, add_messages

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"


@defer.inlineCallbacks
def people(world, *names):
    """Registered sessions of ``names``, in order."""
    sessions = []
    for name in names:
        sessions.append((yield world.user(name)))
    return sessions


@defer.inlineCallbacks
def private_plans(world):
    """Ann's private room "plans" with Bob in it; Eve is a registered outsider. Returns (ann, bob, eve)."""
    ann, bob, eve = yield people(world, "ann", "bob", "eve")
    yield ann.call("chat.room.create", "plans", private=True)
    yield ann.call("chat.room.invite", "plans", "bob")
    return ann, bob, eve


def texts(page):
    return [m["text"] for m in page["messages"]]


def restricted_observer(world):
    """Every publication the router accepts, as (topic, audience) — what the AMQP bridge would be shown."""
    seen = []
    broker = world.server.router.realm("wampchat").broker
    broker.add_observer(lambda pub: seen.append((pub.topic, pub.audience)))
    return seen


# ------------------------------------------------------------------ mentions

@pytest_twisted.inlineCallbacks
def test_mentions_name_existing_users_and_notify_each_of_them_only(world):
    """@names that are users (any case, once each) become `mentions`; each gets one mention notice on their own
    topic, limited to them; e-mail addresses, unknown names and the author are no notices."""
    ann, bob, cid = yield people(world, "ann", "bob", "cid")
    notes = {}
    for name, session in (("ann", ann), ("bob", bob), ("cid", cid)):
        notes[name] = yield world.listen(session, f"chat.user.{name}.notify")
    observed = restricted_observer(world)
    text = "hi @bob and @Cid, not @nobody nor ann@example.com; @bob again, me: @ann"
    sent = yield ann.call("chat.message.send", "lobby", text)
    assert sent["mentions"] == ["bob", "cid", "ann"] and sent["text"] == text
    yield notes["bob"].wait_for(1)
    yield notes["cid"].wait_for(1)
    lobby = dict((yield ann.call("chat.room.join", "lobby"))["room"])
    del lobby["pinned"]   # a join also gives the pins
    assert payloads(notes["bob"]) == [{"event": "mention", "room": lobby, "message": sent}]
    assert payloads(notes["cid"]) == [{"event": "mention", "room": lobby, "message": sent}]
    yield ann.call("chat.message.send", "lobby", "@bob sentinel")
    yield notes["bob"].wait_for(2)
    assert notes["ann"].events == [] and len(notes["cid"].events) == 1
    notices = [(topic, audience.eligible_authid) for topic, audience in observed if topic.endswith(".notify")]
    assert notices == [("chat.user.bob.notify", ["bob"]), ("chat.user.cid.notify", ["cid"]),
                       ("chat.user.bob.notify", ["bob"])]
    assert (yield bob.call("chat.message.history", "lobby"))["messages"][0]["mentions"] == ["bob", "cid", "ann"]


@pytest_twisted.inlineCallbacks
def test_mentions_in_private_rooms_and_dms_reach_members_only(world):
    """In a private room or a DM only members can be mentioned; an outsider named there is not told, and
    learns nothing of it."""
    ann, bob, eve = yield private_plans(world)
    eve_notes = yield world.listen(eve, "chat.user.eve.notify")
    bob_notes = yield world.listen(bob, "chat.user.bob.notify")
    in_plans = yield ann.call("chat.message.send", "plans", "@bob @eve secret plans")
    yield ann.call("chat.dm.open", "bob")
    in_dm = yield ann.call("chat.message.send", "dm_ann_bob", "@eve must not know")
    assert in_plans["mentions"] == ["bob"] and "mentions" not in in_dm
    yield ann.call("chat.message.send", "lobby", "@eve lobby sentinel")
    yield eve_notes.wait_for(1)
    yield bob_notes.wait_for(2)  # the DM notice, then the mention in plans
    assert [(p["event"], p["room"]["id"]) for p in payloads(eve_notes)] == [("mention", "lobby")]
    assert [(p["event"], p["room"]["id"]) for p in payloads(bob_notes)] == [("mention", "plans"), ("dm", "dm_ann_bob")]


@pytest_twisted.inlineCallbacks
def test_a_guest_member_can_be_mentioned_by_id(world):
    """A guest online now may read public rooms, so `@guest_<id>` mentions them; a guest who left is nobody
    (polled with a deadline until its online row is gone)."""
    (ann,) = yield people(world, "ann")
    gus = yield world.guest("Gus")
    gus_id = (yield gus.call("chat.user.me"))["user"]
    notes = yield world.listen(gus, f"chat.user.{gus_id}.notify")
    store = world.server.service.getServiceNamed("chat").store

    def online(expected):
        return store.known_user(gus_id).addCallback(lambda row: (row is not None) == expected)

    yield poll_until(lambda: online(True), interval=0.05)  # the arrival is recorded just after the join
    sent = yield ann.call("chat.message.send", "lobby", f"welcome @{gus_id}")
    assert sent["mentions"] == [gus_id]
    yield notes.wait_for(1)
    assert payloads(notes)[0]["message"]["id"] == sent["id"]
    yield leave(gus)
    yield poll_until(lambda: online(False), interval=0.05)  # the online row goes when its session ends
    assert "mentions" not in (yield ann.call("chat.message.send", "lobby", f"bye @{gus_id}"))


@pytest_twisted.inlineCallbacks
def test_unread_mentions_are_counted_apart_and_follow_edits_and_reads(world):
    """The room list counts unread messages that mention me; an edit that drops the mention drops the count
    (nobody is notified of an edit), and reading clears it."""
    ann, bob = yield people(world, "ann", "bob")
    notes = yield world.listen(bob, "chat.user.bob.notify")
    plain = yield ann.call("chat.message.send", "lobby", "hello all")
    first = yield ann.call("chat.message.send", "lobby", "@bob look")
    second = yield ann.call("chat.message.send", "lobby", "@bob and this")

    def lobby_counts(rooms):
        lobby = [r for r in rooms if r["id"] == "lobby"][0]
        return lobby["unread"], lobby["mentions"]

    assert lobby_counts((yield bob.call("chat.room.list"))) == (3, 2)
    edited = yield ann.call("chat.message.edit", "lobby", first["id"], "look, everyone")
    assert "mentions" not in edited
    assert lobby_counts((yield bob.call("chat.room.list"))) == (3, 1)
    readded = yield ann.call("chat.message.edit", "lobby", plain["id"], "hello @bob")
    assert readded["mentions"] == ["bob"]
    assert lobby_counts((yield bob.call("chat.room.list"))) == (3, 2)
    yield ann.call("chat.message.delete", "lobby", second["id"])
    assert lobby_counts((yield bob.call("chat.room.list"))) == (2, 1)
    yield bob.call("chat.read", "lobby", second["id"])
    assert lobby_counts((yield bob.call("chat.room.list"))) == (0, 0)
    assert lobby_counts((yield ann.call("chat.room.list"))) == (0, 0)
    yield ann.call("chat.message.send", "lobby", "@bob sentinel")
    yield notes.wait_for(3)
    assert [p["message"]["text"] for p in payloads(notes)] == ["@bob look", "@bob and this", "@bob sentinel"]


@pytest_twisted.inlineCallbacks
def test_mentions_cost_one_query_per_batch_not_per_message(world):
    """Resolving mentions in the send transaction adds the same statements to a batch (the names' lookup,
    the mentions' insert) whether it holds one message or twenty, each naming other people."""
    yield people(world, "ann", "bob", "cid", "dan")
    database = world.server.service.getServiceNamed("chat").store.database
    names = ["bob", "cid", "dan", "nobody"]

    def run(n, mentioning):
        requests = [SendRequest("lobby", "ann", "ann",
                                f"hi @{names[i % 4]} and @{names[(i + 1) % 4]}" if mentioning else f"hi {i}", 1000 + i)
                    for i in range(n)]

        def counting(tx):
            outcomes = add_messages(tx, requests)
            return outcomes, tx.executed

        return database.run(counting)

    yield run(1, False)  # ann's first message makes her a member (a statement of its own, once)
    one, one_with = yield run(1, True)
    _, one_without = yield run(1, False)
    many, many_with = yield run(20, True)
    _, many_without = yield run(20, False)
    assert one[0].message["mentions"] == ["bob", "cid"]
    assert [o.message.get("mentions") for o in many[:4]] == [["bob", "cid"], ["cid", "dan"], ["dan"], ["bob"]]
    # tx.executed counts what reached the database at once: on PostgreSQL a pipelined statement is not counted
    assert one_with - one_without == many_with - many_without, (one_with, one_without, many_with, many_without)
    # who exists, who of them silenced the room (notification level none), the mention rows
    assert 1 <= one_with - one_without <= 3, (one_with, one_without)
    assert many_without == one_without  # and the batch itself costs no statement per message


# ------------------------------------------------------------------ search

@pytest_twisted.inlineCallbacks
def test_search_words_prefixes_and_phrases_newest_first_with_pages(make_world):
    """Words all must match, `prefix*` matches word starts, quotes match phrases; hits come newest first,
    page with `before` and say when more remain; `room` narrows to one room."""
    world = yield make_world(["--send-rate", "1000"])
    ann, bob = yield people(world, "ann", "bob")
    yield ann.call("chat.room.create", "team")
    corpus = [("lobby", "The quick brown fox"), ("lobby", "a slow brown dog"), ("team", "Quick thinking, brown bag"),
              ("lobby", "fox, brown and quick"), ("team", "quickly now"), ("lobby", "nothing to see")]
    sent = []
    for room, text in corpus:
        sent.append((yield ann.call("chat.message.send", room, text)))

    def hits(result):
        return [m["text"] for m in result["messages"]]

    assert hits((yield bob.call("chat.message.search", "brown"))) == [
        "fox, brown and quick", "Quick thinking, brown bag", "a slow brown dog", "The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", "QUICK brown"))) == [
        "fox, brown and quick", "Quick thinking, brown bag", "The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", "quick*"))) == [
        "quickly now", "fox, brown and quick", "Quick thinking, brown bag", "The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", '"quick brown"'))) == ["The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", '"brown fox" quick'))) == ["The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", '"thinking brown" bag'))) == ["Quick thinking, brown bag"]
    assert hits((yield bob.call("chat.message.search", '"quick bro"*'))) == ["The quick brown fox"]
    assert hits((yield bob.call("chat.message.search", "brown", room="team"))) == ["Quick thinking, brown bag"]
    assert hits((yield bob.call("chat.message.search", "elephant"))) == []
    accents = yield ann.call("chat.message.send", "team", "Café Über naïve")
    assert [m["id"] for m in (yield bob.call("chat.message.search", "café üBER"))["messages"]] == [accents["id"]]
    assert [m["id"] for m in (yield bob.call("chat.message.search", "naï*"))["messages"]] == [accents["id"]]
    assert hits((yield bob.call("chat.message.search", "cafe"))) == []  # accents count, on both engines
    yield ann.call("chat.message.delete", "team", accents["id"])

    first = yield bob.call("chat.message.search", "brown", limit=3)
    assert hits(first) == ["fox, brown and quick", "Quick thinking, brown bag", "a slow brown dog"] and first["more"]
    rest = yield bob.call("chat.message.search", "brown", limit=3, before=first["messages"][-1]["id"])
    assert hits(rest) == ["The quick brown fox"] and rest["more"] is False
    assert rest["messages"][0] == sent[0]


@pytest_twisted.inlineCallbacks
def test_search_never_returns_what_the_caller_may_not_read(world):
    """Private rooms and DMs are searched only for their members: an outsider, a guest and a member who left
    find nothing there (and `room=` on them is not_found), while members find it and public hits still come."""
    ann, bob, eve = yield private_plans(world)
    yield world.user("cid")
    yield ann.call("chat.dm.open", "cid")
    yield ann.call("chat.message.send", "plans", "zebra secret in plans")
    yield ann.call("chat.message.send", "dm_ann_cid", "zebra secret in a dm")
    yield ann.call("chat.message.send", "lobby", "zebra in public")
    guest = yield world.guest("Gus")
    for outsider in (eve, guest):
        result = yield outsider.call("chat.message.search", "zebra")
        assert texts(result) == ["zebra in public"] and result["more"] is False
        assert texts((yield outsider.call("chat.message.search", "secret"))) == []
        for room in ("plans", "dm_ann_cid"):
            assert (yield error_of(outsider.call("chat.message.search", "zebra", room=room))) == NOT_FOUND
    assert texts((yield bob.call("chat.message.search", "zebra"))) == ["zebra in public", "zebra secret in plans"]
    assert texts((yield ann.call("chat.message.search", "zebra secret"))) == [
        "zebra secret in a dm", "zebra secret in plans"]
    yield bob.call("chat.room.leave", "plans")
    assert texts((yield bob.call("chat.message.search", "zebra"))) == ["zebra in public"]
    # a page of an outsider is full of readable hits: the filter is in the query, not applied afterwards
    for i in range(3):
        yield ann.call("chat.message.send", "plans", f"zebra private {i}")
    result = yield eve.call("chat.message.search", "zebra", limit=1)
    assert texts(result) == ["zebra in public"] and result["more"] is False


@pytest_twisted.inlineCallbacks
def test_edits_and_deletes_update_the_search_index(world):
    """An edited message is found by its new words only; a deleted one by none."""
    ann, bob = yield people(world, "ann", "bob")
    kept = yield ann.call("chat.message.send", "lobby", "walrus original words")
    gone = yield ann.call("chat.message.send", "lobby", "walrus to be deleted")
    yield ann.call("chat.message.edit", "lobby", kept["id"], "narwhal replaced words")
    yield ann.call("chat.message.delete", "lobby", gone["id"])
    assert texts((yield bob.call("chat.message.search", "walrus"))) == []
    assert texts((yield bob.call("chat.message.search", "original"))) == []
    assert texts((yield bob.call("chat.message.search", "deleted"))) == []
    found = yield bob.call("chat.message.search", "narwhal")
    assert texts(found) == ["narwhal replaced words"] and "edited" in found["messages"][0]


@pytest.mark.parametrize("query,found", [
    ("bob OR alice", []), ("NEAR(bob alice)", []), ("bob) OR (alice", []), ("text:bob", []), ("-bob", ["bob only"]),
    ("only -alice", ["alice only"]), ("bob AND NOT alice", []), ("'bob' | 'alice'", []), ("bob & !alice", []),
    ("bob:* <-> alice", []), ("^bob", ["bob only"]), ("bob\\", ["bob only"]), ("bo*", ["bob only"]),
    ("only", ["alice only", "bob only"]), ("'; DROP TABLE messages; --", []),
])
@pytest_twisted.inlineCallbacks
def test_query_syntax_of_either_engine_is_only_words(world, query, found):
    """FTS5 and tsquery operators in a query only separate words, never act: a query finds the messages
    holding all its words, the same on both stores, and the database is unharmed."""
    ann, bob = yield people(world, "ann", "bob")
    yield ann.call("chat.message.send", "lobby", "bob only")
    yield ann.call("chat.message.send", "lobby", "alice only")
    assert texts((yield bob.call("chat.message.search", query))) == found
    assert len((yield bob.call("chat.message.history", "lobby"))["messages"]) == 2


@pytest_twisted.inlineCallbacks
def test_search_of_a_migrated_database_finds_old_messages(tmp_path):
    """Messages stored before search existed (a 5adadf8 database) are found once it is upgraded, readable
    rooms only, the deleted one not at all."""
    from chatkit import ChatWorld
    from test_migrations import legacy_database

    path = str(tmp_path / "old.sqlite")
    legacy_database(path)
    world = ChatWorld(tmp_path, path)
    yield world.start()
    try:
        bob = yield world.connect(authmethods=["ticket"], authid="bob", secret="bob's long password")
        lobby = yield bob.call("chat.message.search", '"in lobby"')
        assert texts(lobby) == [f"message {n} in lobby <b>kept as text</b>" for n in (9, 6, 0)]
        assert texts((yield bob.call("chat.message.search", "edited"))) == ["edited text"]
        assert len(texts((yield bob.call("chat.message.search", "kept text", limit=100)))) == 10
        guest = yield world.guest("Gus")
        assert texts((yield guest.call("chat.message.search", "team"))) == []
        assert len(texts((yield guest.call("chat.message.search", "kept")))) == 3
    finally:
        yield world.stop()


# ------------------------------------------------------------------ reactions

@pytest_twisted.inlineCallbacks
def test_reactions_toggle_once_per_user_and_show_everywhere(world):
    """Reacting adds the user under the emoji once (again changes nothing and publishes nothing), on=false
    takes it back; history, join and search results carry the reactions; readers need not be members."""
    ann, bob = yield people(world, "ann", "bob")
    gus = yield world.guest("Gus")
    gus_id = (yield gus.call("chat.user.me"))["user"]
    events = yield world.listen(ann, "chat.room.lobby.reaction")
    msg = yield ann.call("chat.message.send", "lobby", "react to this pelican")
    first = yield bob.call("chat.message.react", "lobby", msg["id"], "👍")
    assert first["reactions"] == {"👍": ["bob"]} and first["text"] == msg["text"]
    again = yield bob.call("chat.message.react", "lobby", msg["id"], "👍", on=True)
    assert again["reactions"] == {"👍": ["bob"]}
    yield gus.call("chat.message.react", "lobby", msg["id"], "👍")
    family = "👨‍👩‍👧‍👦"
    yield ann.call("chat.message.react", "lobby", msg["id"], family)
    both = yield bob.call("chat.message.react", "lobby", msg["id"], "🎉")
    assert both["reactions"] == {"👍": ["bob", gus_id], family: ["ann"], "🎉": ["bob"]}
    off = yield bob.call("chat.message.react", "lobby", msg["id"], "👍", on=False)
    assert off["reactions"] == {"👍": [gus_id], family: ["ann"], "🎉": ["bob"]}
    assert (yield bob.call("chat.message.react", "lobby", msg["id"], "👍", on=False))["reactions"] == off["reactions"]
    yield events.wait_for(5)
    assert payloads(events) == [
        {"id": msg["id"], "room": "lobby", "emoji": "👍", "user": "bob", "on": True},
        {"id": msg["id"], "room": "lobby", "emoji": "👍", "user": gus_id, "on": True},
        {"id": msg["id"], "room": "lobby", "emoji": family, "user": "ann", "on": True},
        {"id": msg["id"], "room": "lobby", "emoji": "🎉", "user": "bob", "on": True},
        {"id": msg["id"], "room": "lobby", "emoji": "👍", "user": "bob", "on": False},
    ]
    expected = dict(msg, reactions=off["reactions"])
    assert (yield ann.call("chat.message.history", "lobby"))["messages"] == [expected]
    assert (yield ann.call("chat.room.join", "lobby"))["history"] == [expected]
    assert (yield ann.call("chat.message.search", "pelican"))["messages"] == [expected]
    members = [m["user"] for m in (yield ann.call("chat.room.members", "lobby"))]
    assert "bob" not in members and gus_id not in members  # reacting is not joining


@pytest_twisted.inlineCallbacks
def test_reactions_in_private_rooms_are_for_members_only(world):
    """An outsider cannot react to a private room's message (not_found, as if it did not exist) and never
    sees its reaction events; a member can, and a deleted message takes its reactions with it."""
    ann, bob, eve = yield private_plans(world)
    msg = yield ann.call("chat.message.send", "plans", "members only")
    events = yield world.listen(bob, "chat.room.plans.reaction")
    assert (yield error_of(eve.call("chat.message.react", "plans", msg["id"], "👀"))) == NOT_FOUND
    guest = yield world.guest("Gus")
    assert (yield error_of(guest.call("chat.message.react", "plans", msg["id"], "👀"))) == NOT_FOUND
    assert (yield bob.call("chat.message.react", "plans", msg["id"], "👍"))["reactions"] == {"👍": ["bob"]}
    yield events.wait_for(1)
    assert [p["user"] for p in payloads(events)] == ["bob"]
    yield ann.call("chat.message.delete", "plans", msg["id"])
    page = yield bob.call("chat.message.history", "plans")
    assert "reactions" not in page["messages"][0] and page["messages"][0]["deleted"] is True
    assert (yield error_of(bob.call("chat.message.react", "plans", msg["id"], "👍"))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_a_message_carries_at_most_fifty_kinds_of_reaction(world):
    """Past 50 different emoji on one message a new one is a conflict; adding to an existing one still works."""
    ann, bob = yield people(world, "ann", "bob")
    msg = yield ann.call("chat.message.send", "lobby", "so many feelings")
    for n in range(50):
        yield ann.call("chat.message.react", "lobby", msg["id"], f"e{n}")
    assert (yield error_of(bob.call("chat.message.react", "lobby", msg["id"], "e50"))) == "wampchat.error.conflict"
    result = yield bob.call("chat.message.react", "lobby", msg["id"], "e7")
    assert len(result["reactions"]) == 50 and result["reactions"]["e7"] == ["ann", "bob"]


# ------------------------------------------------------------------ catching up on changes

@pytest_twisted.inlineCallbacks
def test_changes_after_a_cursor_give_every_edit_delete_and_reaction_once_in_order(world):
    """A reader who was away asks for what changed after the cursor from its join: edits, deletes and
    reactions, each message once with its latest state, paged in the order the changes committed."""
    ann, bob = yield people(world, "ann", "bob")
    sent = []
    for i in range(5):
        sent.append((yield ann.call("chat.message.send", "lobby", f"m{i}")))
    joined = yield bob.call("chat.room.join", "lobby")
    cursor = joined["changes"]
    assert isinstance(cursor, int)
    nothing = yield bob.call("chat.message.history", "lobby", changed_after=cursor)
    assert nothing == {"messages": [], "more": False, "changes": cursor}

    yield ann.call("chat.message.edit", "lobby", sent[3]["id"], "m3 edited")
    yield ann.call("chat.message.delete", "lobby", sent[1]["id"])
    yield ann.call("chat.message.react", "lobby", sent[0]["id"], "👍")
    yield ann.call("chat.message.edit", "lobby", sent[3]["id"], "m3 edited twice")
    yield ann.call("chat.message.send", "lobby", "a new message is no change")

    page = yield bob.call("chat.message.history", "lobby", changed_after=cursor, limit=2)
    assert [m["id"] for m in page["messages"]] == [sent[1]["id"], sent[0]["id"]] and page["more"] is True
    assert page["messages"][0]["deleted"] is True and page["messages"][1]["reactions"] == {"👍": ["ann"]}
    rest = yield bob.call("chat.message.history", "lobby", changed_after=page["changes"], limit=2)
    assert texts(rest) == ["m3 edited twice"] and rest["more"] is False
    final = yield bob.call("chat.message.history", "lobby", changed_after=rest["changes"])
    assert final == {"messages": [], "more": False, "changes": rest["changes"]}
    assert (yield bob.call("chat.room.join", "lobby"))["changes"] == rest["changes"]


@pytest_twisted.inlineCallbacks
def test_join_shows_every_read_marker_for_seen_by(world):
    """chat.room.join gives each member's read marker, so a page can say who has seen what."""
    ann, bob, eve = yield private_plans(world)
    first = yield ann.call("chat.message.send", "plans", "one")
    yield ann.call("chat.message.send", "plans", "two")
    yield bob.call("chat.read", "plans", first["id"])
    joined = yield ann.call("chat.room.join", "plans")
    assert joined["reads"] == {"bob": first["id"]}
    assert (yield error_of(eve.call("chat.room.join", "plans"))) == NOT_FOUND


@pytest_twisted.inlineCallbacks
def test_a_batch_checks_memberships_and_rates_in_one_statement_each(world):
    """A batch from many authors who are members already costs the same statements as one from a single
    author: their memberships (and, with a rate, their recent sends) are read with one query each."""
    yield people(world, "ann", "bob", "cid", "dan")
    database = world.server.service.getServiceNamed("chat").store.database
    authors = ["ann", "bob", "cid", "dan"]

    def run(users, rate=None):
        requests = [SendRequest("lobby", user, user, f"hi {i}", 5000 + i) for i, user in enumerate(users)]

        def counting(tx):
            return add_messages(tx, requests, rate), tx.executed

        return database.run(counting)

    first, _ = yield run(authors)
    assert [o.joined for o in first] == [True, True, True, True]  # each first message adds its author once
    again, _ = yield run(authors)
    assert [o.joined for o in again] == [False] * 4
    _, one_author = yield run(["ann"] * 8)
    _, four_authors = yield run(authors * 2)
    assert one_author == four_authors
    plenty = SendRate(count=1000, window_ms=60_000)
    _, one_rated = yield run(["ann"] * 8, plenty)
    _, four_rated = yield run(authors * 2, plenty)
    assert one_rated == one_author + 1 and four_rated == one_rated
    # ann has 22 messages in the window now and bob 6: the one query counts each author's own
    limited, _ = yield run(["ann", "bob", "ann", "bob"], SendRate(count=23, window_ms=60_000))
    assert [o.refused for o in limited] == [None, None, TOO_MANY, None]
