"""Rate limits counted in the database, so every node of a cluster counts against one limit.

Registrations per address, room creations per user and new direct-message
rooms per user and per address were counted in each node's memory, so N
nodes allowed N times the documented rate. ``rate_events`` holds one row
per counted event (what kind, whose key, when); a limit counts the rows of
its key inside its window, and rows older than the window are deleted as
the key counts again (and every hour for keys that went quiet).
"""


def upgrade(tx, engine):
    tx.execute("CREATE TABLE rate_events (kind TEXT NOT NULL, key TEXT NOT NULL, ts BIGINT NOT NULL)")
    tx.execute("CREATE INDEX rate_events_by_key ON rate_events (kind, key, ts)")
    tx.execute("CREATE INDEX rate_events_by_time ON rate_events (ts)")
