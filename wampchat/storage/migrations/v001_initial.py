"""The schema of the first release (SQLite tables as commit 5adadf8 made them)."""
SQLITE = """
CREATE TABLE users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, display_name TEXT,
    password_hash TEXT NOT NULL, cra_salt TEXT NOT NULL, cra_key TEXT NOT NULL,
    cra_iterations INTEGER NOT NULL, cra_keylen INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE rooms (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, private INTEGER NOT NULL, owner TEXT, created INTEGER NOT NULL);
CREATE TABLE members (
    room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, joined INTEGER NOT NULL,
    PRIMARY KEY (room, user));
CREATE TABLE messages (
    id TEXT PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, nick TEXT NOT NULL,
    text TEXT NOT NULL, ts INTEGER NOT NULL, edited INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
    client_msg_id TEXT);
CREATE INDEX messages_by_room ON messages (room, id);
CREATE UNIQUE INDEX messages_idempotent ON messages (room, user, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE TABLE reads (
    room TEXT NOT NULL, user TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (room, user));
"""

# The same tables in PostgreSQL's types; ids compare byte by byte (COLLATE "C") as they do in SQLite.
POSTGRES = """
CREATE TABLE users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, display_name TEXT,
    password_hash TEXT NOT NULL, cra_salt TEXT NOT NULL, cra_key TEXT NOT NULL,
    cra_iterations INTEGER NOT NULL, cra_keylen INTEGER NOT NULL, created BIGINT NOT NULL);
CREATE TABLE rooms (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, private BOOLEAN NOT NULL, owner TEXT, created BIGINT NOT NULL);
CREATE TABLE members (
    room TEXT NOT NULL REFERENCES rooms(id), "user" TEXT NOT NULL, joined BIGINT NOT NULL,
    PRIMARY KEY (room, "user"));
CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(id), "user" TEXT NOT NULL,
    nick TEXT NOT NULL, text TEXT NOT NULL, ts BIGINT NOT NULL, edited BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE, client_msg_id TEXT);
CREATE INDEX messages_by_room ON messages (room, id);
CREATE UNIQUE INDEX messages_idempotent ON messages (room, "user", client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE TABLE reads (
    room TEXT NOT NULL, "user" TEXT NOT NULL, message_id TEXT COLLATE "C" NOT NULL, PRIMARY KEY (room, "user"));
"""


def upgrade(tx, engine):
    tx.run_script(POSTGRES if engine.name == "postgresql" else SQLITE)
