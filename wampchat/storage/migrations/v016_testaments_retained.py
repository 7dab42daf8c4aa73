"""What must outlive a node (one router across nodes): its sessions' testaments and the retained events.

- ``cluster_testaments``: each session's testaments, by node, so a surviving
  node publishes them when the session's node dies (the first to delete a
  dead node's rows publishes them; nobody else can).
- ``retained_events``: the last retained event of each topic, so a
  subscriber on any node gets what was published on any other.
"""

IDENTITY = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
            "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}


def upgrade(tx, engine):
    tx.execute(f"CREATE TABLE cluster_testaments (id {IDENTITY[engine.name]}, node TEXT NOT NULL, "
               "session BIGINT NOT NULL, authid TEXT, authrole TEXT, topic TEXT NOT NULL, payload TEXT NOT NULL)")
    tx.execute("CREATE INDEX cluster_testaments_by_session ON cluster_testaments (node, session)")
    tx.execute("CREATE TABLE retained_events (topic TEXT PRIMARY KEY, payload TEXT NOT NULL, ts BIGINT NOT NULL)")
