"""
What must outlive a node: its sessions' testaments and the cluster's retained events (one router across
nodes). Payloads are kept as JSON text: ``{"args": [...], "kwargs": {...}, ...}``.
"""
import json

HISTORY_LOCKS = 0x77636568   # "wceh": the lock space of topics whose history is being written


def add_testament(tx, node: str, session: int, authid: str, authrole: str, topic: str, payload: dict) -> None:
    tx.execute("INSERT INTO cluster_testaments (node, session, authid, authrole, topic, payload) "
               "VALUES (?, ?, ?, ?, ?, ?)", (node, session, authid, authrole, topic, json.dumps(payload)))


def drop_testaments(tx, node: str, session: int) -> None:
    """A session's testaments are flushed, published by its node, or dropped after its GOODBYE."""
    tx.execute("DELETE FROM cluster_testaments WHERE node = ? AND session = ?", (node, session))


def drop_node_testaments(tx, node: str) -> None:
    """A node stopping cleanly publishes its sessions' testaments itself: none are left for the survivors."""
    tx.execute("DELETE FROM cluster_testaments WHERE node = ?", (node,))


def claim_testaments(tx, node: str) -> list:
    """Take every testament a dead ``node`` left (only one caller gets them): (session, authid, authrole, topic,
    payload) in the order they were added."""
    rows = tx.query("DELETE FROM cluster_testaments WHERE node = ? RETURNING id, session, authid, authrole, topic, "
                    "payload", (node,))
    return [(r["session"], r["authid"], r["authrole"], r["topic"], json.loads(r["payload"]))
            for r in sorted(rows, key=lambda r: r["id"])]


def keep_retained(tx, topic: str, payload: dict, now: int) -> None:
    tx.execute("INSERT INTO retained_events (topic, payload, ts) VALUES (?, ?, ?) ON CONFLICT (topic) DO UPDATE "
               "SET payload = excluded.payload, ts = excluded.ts", (topic, json.dumps(payload), now))


def retained(tx, topic: str) -> dict | None:
    row = tx.one("SELECT payload FROM retained_events WHERE topic = ?", (topic,))
    return json.loads(row["payload"]) if row is not None else None


def record_event(tx, topic: str, keep: int, event: dict) -> None:
    """Keep ``event`` and only the topic's newest ``keep`` (event history); nodes writing one topic take turns."""
    tx.engine.lock_key(tx, HISTORY_LOCKS, topic)
    tx.execute("INSERT INTO event_history (topic, payload) VALUES (?, ?)", (topic, json.dumps(event)))
    tx.execute("DELETE FROM event_history WHERE topic = ? AND id <= (SELECT id FROM event_history WHERE topic = ? "
               "ORDER BY id DESC LIMIT 1 OFFSET ?)", (topic, topic, keep))


def history(tx, uri: str, prefix: bool, limit: int) -> list:
    """The newest ``limit`` kept events of the topic ``uri`` (or of every topic under it), newest first."""
    if prefix:
        rows = tx.query("SELECT payload FROM event_history WHERE substr(topic, 1, ?) = ? ORDER BY id DESC LIMIT ?",
                        (len(uri), uri, limit))
    else:
        rows = tx.query("SELECT payload FROM event_history WHERE topic = ? ORDER BY id DESC LIMIT ?", (uri, limit))
    return [json.loads(r["payload"]) for r in rows]
