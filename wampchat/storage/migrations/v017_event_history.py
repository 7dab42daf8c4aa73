"""Event history (``--event-history URI:N``): each kept topic's last N events, for
``wamp.subscription.get_events`` on any node."""

IDENTITY = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
            "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}


def upgrade(tx, engine):
    tx.execute(f"CREATE TABLE event_history (id {IDENTITY[engine.name]}, topic TEXT NOT NULL, payload TEXT NOT NULL)")
    tx.execute("CREATE INDEX event_history_by_topic ON event_history (topic, id)")
