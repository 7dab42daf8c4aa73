-- A chat database written by wampchat at commit 5adadf8 (schema before versioning), dumped with sqlite3 .dump.
-- Two users (passwords "ann's long password", "bob's long password"), a public, a private and a DM room,
-- 12 messages (one edited, one deleted, some with client_msg_id), read markers and a leftover guest membership.
BEGIN TRANSACTION;
CREATE TABLE members (
    room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, joined INTEGER NOT NULL,
    PRIMARY KEY (room, user));
INSERT INTO "members" VALUES('lobby','ann',1700000000300);
INSERT INTO "members" VALUES('lobby','bob',1700000000300);
INSERT INTO "members" VALUES('team','ann',1700000000300);
INSERT INTO "members" VALUES('team','bob',1700000000300);
INSERT INTO "members" VALUES('dm_ann_bob','ann',1700000000300);
INSERT INTO "members" VALUES('dm_ann_bob','bob',1700000000300);
INSERT INTO "members" VALUES('lobby','guest_0badc0de',1700000000300);
CREATE TABLE messages (
    id TEXT PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(id), user TEXT NOT NULL, nick TEXT NOT NULL,
    text TEXT NOT NULL, ts INTEGER NOT NULL, edited INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
    client_msg_id TEXT);
INSERT INTO "messages" VALUES('17000000010000000a7bb8c8b','lobby','ann','Ann','message 0 in lobby <b>kept as text</b>',1700000001000,NULL,0,NULL);
INSERT INTO "messages" VALUES('17000000010000001a7bb8c8b','team','bob','Bob','message 1 in team <b>kept as text</b>',1700000001000,NULL,0,'c1');
INSERT INTO "messages" VALUES('17000000010000002a7bb8c8b','dm_ann_bob','ann','Ann','message 2 in dm_ann_bob <b>kept as text</b>',1700000001000,NULL,0,NULL);
INSERT INTO "messages" VALUES('17000000010010000a7bb8c8b','lobby','bob','Bob','edited text',1700000001001,1700000005000,0,'c3');
INSERT INTO "messages" VALUES('17000000010010001a7bb8c8b','team','ann','Ann','',1700000001001,NULL,1,NULL);
INSERT INTO "messages" VALUES('17000000010010002a7bb8c8b','dm_ann_bob','bob','Bob','message 5 in dm_ann_bob <b>kept as text</b>',1700000001001,NULL,0,'c5');
INSERT INTO "messages" VALUES('17000000010010003a7bb8c8b','lobby','ann','Ann','message 6 in lobby <b>kept as text</b>',1700000001001,NULL,0,NULL);
INSERT INTO "messages" VALUES('17000000010020000a7bb8c8b','team','bob','Bob','message 7 in team <b>kept as text</b>',1700000001002,NULL,0,'c7');
INSERT INTO "messages" VALUES('17000000010020001a7bb8c8b','dm_ann_bob','ann','Ann','message 8 in dm_ann_bob <b>kept as text</b>',1700000001002,NULL,0,NULL);
INSERT INTO "messages" VALUES('17000000010020002a7bb8c8b','lobby','bob','Bob','message 9 in lobby <b>kept as text</b>',1700000001002,NULL,0,'c9');
INSERT INTO "messages" VALUES('17000000010030000a7bb8c8b','team','ann','Ann','message 10 in team <b>kept as text</b>',1700000001003,NULL,0,NULL);
INSERT INTO "messages" VALUES('17000000010030001a7bb8c8b','dm_ann_bob','bob','Bob','message 11 in dm_ann_bob <b>kept as text</b>',1700000001003,NULL,0,'c11');
CREATE TABLE reads (
    room TEXT NOT NULL, user TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (room, user));
INSERT INTO "reads" VALUES('lobby','bob','17000000010010003a7bb8c8b');
INSERT INTO "reads" VALUES('team','ann','17000000010020000a7bb8c8b');
CREATE TABLE rooms (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, private INTEGER NOT NULL, owner TEXT, created INTEGER NOT NULL);
INSERT INTO "rooms" VALUES('lobby','Lobby',0,NULL,1700000000000);
INSERT INTO "rooms" VALUES('team','The Team',1,'ann',1700000000100);
INSERT INTO "rooms" VALUES('dm_ann_bob','ann & bob',1,NULL,1700000000200);
CREATE TABLE users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, display_name TEXT,
    password_hash TEXT NOT NULL, cra_salt TEXT NOT NULL, cra_key TEXT NOT NULL,
    cra_iterations INTEGER NOT NULL, cra_keylen INTEGER NOT NULL, created INTEGER NOT NULL);
INSERT INTO "users" VALUES('ann','admin','Ann Admin','scrypt$16384$8$1$hmKbgJPpZbrybBFMU4HBCA==$Oj8hSiwunW6WtcJycPDCrPkzwCWarjHLxvLJGBwt4WWJ3OiJMW+Gt8DwlY34goFN40sQ4jzeRW2wrhhwadfLAQ==','MgwK8OCbJltRIpalkwdqFQ==','uIA2Up/FDVpojUrtxuH/y+G0H357p+VvfRckkR7c7Ls=',4096,32,1700000000000);
INSERT INTO "users" VALUES('bob','user','Bob','scrypt$16384$8$1$BjGJ2l7ue4aoFpHt/G0BKw==$2iDaO1SvZgmejh7oNpD2v5gm4ZlAdyOtxf05UKd4Vhp0TKajRYro4AeHIwGtPfEzbGvdvwfr9vQb6SEFAedCsA==','Or8zf+lVYDXhxNVED9Oz3Q==','5Ud/IMPAYRBzJtUtqTE9Qc9HxyFj0mA5bMcmjg/Ox0g=',4096,32,1700000000001);
CREATE INDEX messages_by_room ON messages (room, id);
CREATE UNIQUE INDEX messages_idempotent ON messages (room, user, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
COMMIT;
