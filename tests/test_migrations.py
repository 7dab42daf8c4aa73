"""Schema migrations and start-up checks: old databases upgrade with nothing lost; unusable ones stop the start
with one line."""
import os
import sqlite3
import subprocess
import sys

import pytest
import pytest_twisted

from chatkit import PASSWORD, ChatWorld, error_of  # noqa: F401
from wampchat.admin import main as admin_main
from wampchat.storage import LATEST_VERSION, StartupError, open_database, prepare_database
from wampchat.storage.engines import engine_for

LEGACY_DUMP = os.path.join(os.path.dirname(__file__), "data", "legacy-5adadf8.sql")
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


def legacy_database(path):
    """A SQLite file exactly as wampchat 5adadf8 left it; returns its rows, table by table."""
    conn = sqlite3.connect(path)
    with open(LEGACY_DUMP, encoding="utf-8") as f:
        conn.executescript(f.read())
    rows = {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("users", "rooms", "members", "messages", "reads")}
    conn.close()
    return rows


def test_a_5adadf8_database_migrates_with_every_row_intact(tmp_path):
    """Every row of every table of a pre-versioning database is there after the upgrade, column for column."""
    path = str(tmp_path / "old.sqlite")
    before = legacy_database(path)
    prepare_database(path)
    conn = sqlite3.connect(path)
    after = {
        "users": conn.execute("SELECT username, role, display_name, password_hash, cra_salt, cra_key, "
                              "cra_iterations, cra_keylen, created FROM users ORDER BY 1, 2").fetchall(),
        "rooms": conn.execute("SELECT id, title, private, owner, created FROM rooms ORDER BY 1, 2").fetchall(),
        "members": conn.execute("SELECT room, username, joined FROM members ORDER BY 1, 2").fetchall(),
        "messages": conn.execute("SELECT id, room, username, nick, text, ts, edited, deleted, client_msg_id "
                                 "FROM messages ORDER BY 1, 2").fetchall(),
        "reads": conn.execute("SELECT room, username, message_id FROM reads ORDER BY 1, 2").fetchall(),
    }
    version = conn.execute("SELECT version FROM wampchat_schema").fetchone()[0]
    clocks = dict(conn.execute("SELECT id, last_ms * 10000 + last_seq FROM rooms").fetchall())
    conn.close()
    assert after == before and all(before.values())
    assert version == LATEST_VERSION
    newest = {room: max(m[0] for m in before["messages"] if m[1] == room) for room in clocks if room != "lobby"}
    assert all(clocks[room] == int(newest[room][:17]) for room in newest)


def test_migrating_twice_changes_nothing(tmp_path):
    """A second start on a migrated database finds the latest version and runs nothing."""
    path = str(tmp_path / "old.sqlite")
    legacy_database(path)
    prepare_database(path)
    engine = engine_for(path)
    conn = engine.connect()
    from wampchat.storage import migrate

    assert migrate(engine, conn) == (LATEST_VERSION, LATEST_VERSION)
    conn.close()


@pytest_twisted.ensureDeferred
async def test_the_server_serves_a_migrated_database(tmp_path):
    """On an upgraded 5adadf8 database, old users log in, old history reads in order, new messages sort after
    it, private rooms stay private and the leftover guest membership is gone."""
    path = str(tmp_path / "old.sqlite")
    old = legacy_database(path)
    world = ChatWorld(tmp_path, path)
    await world.start()
    try:
        ann = await world.connect(authmethods=["ticket"], authid="ann", secret="ann's long password")
        bob = await world.connect(authmethods=["wampcra"], authid="bob", secret="bob's long password")
        me = await ann.call("chat.user.me")
        assert me == {"user": "ann", "nick": "Ann Admin", "role": "admin"}
        lobby = await bob.call("chat.message.history", "lobby")
        old_lobby = [m for m in old["messages"] if m[1] == "lobby"]
        assert [m["id"] for m in lobby["messages"]] == [m[0] for m in old_lobby]
        assert lobby["messages"][1]["text"] == "edited text" and lobby["messages"][1]["edited"]
        sent = await bob.call("chat.message.send", "lobby", "after the upgrade")
        assert sent["id"] > old_lobby[-1][0]
        caught_up = await bob.call("chat.message.history", "lobby", after=old_lobby[-1][0])
        assert [m["id"] for m in caught_up["messages"]] == [sent["id"]]
        team = await ann.call("chat.message.history", "team")
        assert any(m.get("deleted") for m in team["messages"])
        guest = await world.guest("Curious")
        assert await error_of(guest.call("chat.message.history", "team")) == "wampchat.error.not_found"
        members = [m["user"] for m in await ann.call("chat.room.members", "lobby")]
        assert "guest_0badc0de" not in members and {"ann", "bob"} <= set(members)
    finally:
        await world.stop()


def test_a_newer_schema_is_refused(db_url):
    """A database written by a newer wampchat stops the start with a message naming both versions."""
    prepare_database(db_url)
    engine = engine_for(db_url)
    conn = engine.connect()
    from wampchat.storage import run_sync

    run_sync(engine, conn, lambda tx: tx.execute("UPDATE wampchat_schema SET version = ?", (LATEST_VERSION + 1,)))
    conn.close()
    with pytest.raises(StartupError, match=f"schema version {LATEST_VERSION + 1}, newer"):
        prepare_database(db_url)


def test_another_applications_database_is_refused(db_url):
    """A database that holds someone else's tables is not touched."""
    engine = engine_for(db_url)
    conn = engine.connect()
    from wampchat.storage import run_sync

    run_sync(engine, conn, lambda tx: tx.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    conn.close()
    with pytest.raises(StartupError, match=r"another application \(invoices\)"):
        prepare_database(db_url)


def test_admin_migrate_upgrades_and_other_commands_wait_for_it(tmp_path):
    """wampchat-admin refuses to add users to an old schema, migrate upgrades it, and then adduser works."""
    import io

    path = str(tmp_path / "old.sqlite")
    legacy_database(path)
    out, err = io.StringIO(), io.StringIO()
    assert admin_main(["--db", path, "users"], stdout=out, stderr=err) == 1
    assert "wampchat-admin --db ... migrate" in err.getvalue()
    assert admin_main(["--db", path, "migrate"], stdout=out, stderr=err) == 0
    assert f"schema version 1 -> {LATEST_VERSION}" in out.getvalue()
    assert admin_main(["--db", path, "users"], stdout=out, stderr=err) == 0
    assert "ann\tadmin\tAnn Admin" in out.getvalue()


def test_admin_setuser_changes_role_and_display_name(db_url):
    """setuser changes what the next login and every member list show."""
    import io

    from wampchat.admin import add_user_command, list_users

    assert add_user_command(db_url, "cat", "user", None, PASSWORD, 1) is None
    assert admin_main(["--db", db_url, "setuser", "cat", "--role", "admin", "--display-name", "Cat"],
                      stdout=io.StringIO(), stderr=io.StringIO()) == 0
    assert list_users(db_url) == [("cat", "admin", "Cat")]
    err = io.StringIO()
    assert admin_main(["--db", db_url, "setuser", "nobody", "--role", "admin"], stdout=io.StringIO(),
                      stderr=err) == 1
    assert "no user 'nobody'" in err.getvalue()


# -- start-up errors: one line, no traceback ----------------------------------------------------

def twistd_start(tmp_path, db):
    """Run ``twistd -n wampchat --db DB`` in a subprocess; (exit code, stderr + stdout)."""
    result = subprocess.run([TWISTD, "-n", "--pidfile=", "wampchat", "--db", db, "--listen",
                             "tcp:0:interface=127.0.0.1"], capture_output=True, text=True, timeout=60,
                            cwd=str(tmp_path))
    return result.returncode, result.stderr + result.stdout


def _assert_one_line(code, output, expected):
    lines = [line for line in output.splitlines() if line.strip()]
    assert code != 0 and "Traceback" not in output, output
    assert len(lines) == 1 and expected in lines[0], output


def test_start_on_a_file_that_is_not_a_database_is_one_line(tmp_path):
    """A --db file that is not SQLite stops twistd with one line naming the file."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database at all, just some text that is long enough to have a header\n" * 20)
    code, output = twistd_start(tmp_path, str(path))
    _assert_one_line(code, output, "notes.txt")


def test_start_with_a_newer_schema_is_one_line(tmp_path):
    """twistd on a database from a newer wampchat says so in one line."""
    path = str(tmp_path / "new.sqlite")
    prepare_database(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE wampchat_schema SET version = 999")
    conn.commit()
    conn.close()
    code, output = twistd_start(tmp_path, path)
    _assert_one_line(code, output, "newer than this wampchat knows")


@pytest.mark.parametrize("problem", ["wrong password", "nothing listening", "no such database", "bad url"])
def test_postgres_start_problems_are_one_line(tmp_path, postgres, problem):
    """A wrong password, an unreachable server, a missing database or a malformed URL: one line, no traceback."""
    from postgres import free_port

    url = {
        "wrong password": postgres.url(password="not-the-password"),
        "nothing listening": postgres.url(port=free_port()),
        "no such database": postgres.url(database="nope"),
        "bad url": "postgresql://wampchat@127.0.0.1:notaport/x",
    }[problem]
    code, output = twistd_start(tmp_path, url)
    _assert_one_line(code, output, "wampchat")
    assert "not-the-password" not in output and "wampchat-secret" not in output


def test_an_unsupported_db_scheme_is_a_usage_error(tmp_path):
    """--db mysql://... is refused before anything starts."""
    code, output = twistd_start(tmp_path, "mysql://x@localhost/db")
    assert code != 0 and "only postgresql:// URLs and SQLite file paths" in output and "Traceback" not in output


@pytest.mark.parametrize("store", ["postgres"])
def test_open_database_on_postgres_reports_where_never_the_password(postgres, store):
    """The engine describes the server and database, never the credentials."""
    from twisted.internet import reactor

    database = open_database(postgres.new_database(), reactor)
    try:
        assert "wampchat-secret" not in database.engine.describe()
        assert f"127.0.0.1:{postgres.port}/wampchat" in database.engine.describe()
    finally:
        database.close()
