"""Direct-message rooms belong to exactly one pair: ids are one-to-one even when usernames hold ``_``, and
``chat.dm.open`` never returns, nor reveals, a room the caller is not a member of (also for DMs made before
version 5, which the migration keys by their members)."""
import pytest_twisted

from chatkit import ChatWorld, error_of, world  # noqa: F401 (fixture)
from wampchat.storage.chat.dm_ids import dm_room_ids
from wampchat.storage import migrations, prepare_database, run_sync
from wampchat.storage.engines import engine_for


def test_dm_ids_of_different_pairs_never_meet():
    """Every pair of a set of names full of underscores gets its own id, and the hash form is another one."""
    names = ["gh", "ij", "kl", "gh_ij", "ij_kl", "gh_ij_kl", "a_", "_b", "a__", "__b", "5_gh", "ab", "a_b"]
    ids = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            readable, hashed = dm_room_ids(a, b)
            assert dm_room_ids(b, a) == (readable, hashed)
            for room_id in (readable, hashed):
                assert ids.setdefault(room_id, (a, b)) == (a, b), f"{room_id} given to {(a, b)} and {ids[room_id]}"
            assert len(readable) <= 72 and readable.startswith("dm_")
    assert dm_room_ids("ann", "bob")[0] == "dm_ann_bob"


@pytest_twisted.inlineCallbacks
def test_a_third_user_cannot_squat_a_pairs_dm(world):
    """(gh, ij_kl) opening their DM first takes nothing from (gh_ij, kl): each pair gets its own room, and
    nobody is handed a room they are not in."""
    for name in ("gh", "ij_kl", "gh_ij", "kl"):
        yield world.register(name)
    gh = yield world.user("gh", register=False)
    gh_ij = yield world.user("gh_ij", register=False)
    kl = yield world.user("kl", register=False)
    squatted = yield gh.call("chat.dm.open", "ij_kl")
    mine = yield gh_ij.call("chat.dm.open", "kl")
    theirs = yield kl.call("chat.dm.open", "gh_ij")
    assert mine["id"] == theirs["id"] != squatted["id"]
    members = yield kl.call("chat.room.members", mine["id"])
    assert sorted(m["user"] for m in members) == ["gh_ij", "kl"]
    assert (yield error_of(kl.call("chat.message.history", squatted["id"]))) == "wampchat.error.not_found"


@pytest_twisted.inlineCallbacks
def test_opening_a_dm_one_left_makes_them_a_member_again(world):
    """Leaving a DM and opening it again returns the same room with its history, the caller a member."""
    yield world.register("ann")
    yield world.register("bob")
    ann = yield world.user("ann", register=False)
    bob = yield world.user("bob", register=False)
    room = yield ann.call("chat.dm.open", "bob")
    yield bob.call("chat.message.send", room["id"], "still here?")
    yield ann.call("chat.room.leave", room["id"])
    assert (yield error_of(ann.call("chat.message.history", room["id"]))) == "wampchat.error.not_found"
    again = yield ann.call("chat.dm.open", "bob")
    assert again["id"] == room["id"]
    page = yield ann.call("chat.message.history", room["id"])
    assert [m["text"] for m in page["messages"]] == ["still here?"]


def _version4_database(db_url, monkeypatch, rows):
    """A database at schema version 4 holding ``rows`` (table -> list of row dicts), then upgraded."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
        patch.setattr(migrations, "LATEST_VERSION", 4)
        prepare_database(db_url)
    engine = engine_for(db_url)
    conn = engine.connect()

    def insert(tx):
        for table, items in rows.items():
            for item in items:
                columns = ", ".join(item)
                marks = ", ".join("?" * len(item))
                tx.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(item.values()))
    try:
        run_sync(engine, conn, insert)
    finally:
        conn.close()
    prepare_database(db_url)


@pytest_twisted.inlineCallbacks
def test_dms_made_before_the_upgrade_keep_working(tmp_path, db_url, monkeypatch):
    """Version-4 DMs (one of them the squatted-looking ``dm_gh_ij_kl`` of gh_ij and kl, one that a member
    left) are found by their pair after the upgrade, with their history; a padded old message is cut."""
    created = 1_700_000_000_000
    rooms = [{"id": "dm_ann_bob", "title": "ann & bob", "private": True, "owner": None, "created": created},
             {"id": "dm_gh_ij_kl", "title": "gh_ij & kl", "private": True, "owner": None, "created": created},
             {"id": "dm_cid_dan", "title": "cid & dan", "private": True, "owner": None, "created": created}]
    members = [{"room": r, "username": u, "joined": created}
               for r, users in (("dm_ann_bob", "ann bob"), ("dm_gh_ij_kl", "gh_ij kl"), ("dm_cid_dan", "dan"))
               for u in users.split()]
    message = {"id": "17000000000000000a", "room": "dm_gh_ij_kl", "username": "kl", "nick": "kl",
               "text": "x" + " " * 5000, "ts": created}
    _version4_database(db_url, monkeypatch, {"rooms": rooms, "members": members, "messages": [message]})
    world = ChatWorld(tmp_path, db_url)
    yield world.start()
    try:
        for name in ("ann", "bob", "gh", "ij_kl", "gh_ij", "kl", "cid", "dan"):
            yield world.register(name)
        kl = yield world.user("kl", register=False)
        gh = yield world.user("gh", register=False)
        cid = yield world.user("cid", register=False)
        ann = yield world.user("ann", register=False)
        assert (yield kl.call("chat.dm.open", "gh_ij"))["id"] == "dm_gh_ij_kl"
        assert (yield ann.call("chat.dm.open", "bob"))["id"] == "dm_ann_bob"
        assert (yield cid.call("chat.dm.open", "dan"))["id"] == "dm_cid_dan"   # keyed from its id: cid is back
        page = yield kl.call("chat.message.history", "dm_gh_ij_kl")
        assert [m["text"] for m in page["messages"]] == ["x"]
        fresh = yield gh.call("chat.dm.open", "ij_kl")
        assert fresh["id"] != "dm_gh_ij_kl"
        members = yield gh.call("chat.room.members", fresh["id"])
        assert sorted(m["user"] for m in members) == ["gh", "ij_kl"]
    finally:
        yield world.stop()

