"""
Leases: a named job that runs on one node of a cluster at a time (table ``leases``, migration v009).

A node holds a lease from the moment its upsert inserts the row, or moves
``until`` forward on a row whose ``until`` has passed or that it holds
already, to ``until``. The upsert is one statement: on SQLite writers are
serialized, on PostgreSQL ``ON CONFLICT DO UPDATE`` locks the row and checks
the condition against the committed row, so two nodes asking at once never
both get it. Times are passed in (the caller's clock), so a test can move
them without waiting.
"""


def take_lease(tx, name: str, holder: str, now_ms: int, hold_ms: int) -> bool:
    """Whether ``holder`` now holds lease ``name`` until ``now_ms + hold_ms`` (False: another holder has it)."""
    tx.execute("INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
               "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "
               "WHERE leases.until <= ? OR leases.holder = excluded.holder",
               (name, holder, now_ms + hold_ms, now_ms))
    return tx.rowcount == 1

