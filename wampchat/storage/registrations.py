"""
The cluster's registrations (one router across nodes): claiming, releasing and reading them.

Only live nodes count: a row of a node missing from ``nodes`` (cleared as
dead, or stopped) is ignored by readers and removed by whoever claims its URI.
"""
REGISTRY_LOCKS = 0x77637267   # "wcrg": the lock space of URIs being claimed (see Engine.lock_key)


class Refused(Exception):
    """A claim the cluster does not allow: ``reason`` is ``exists`` or ``policy``."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


def claim(tx, node: str, uri: str, match: str, invoke: str, now: int) -> None:
    """Record that ``node`` has callees for (uri, match); Refused when a ``single`` registration of it exists on
    another live node, or any registration with another policy."""
    tx.engine.lock_key(tx, REGISTRY_LOCKS, f"{match} {uri}")
    tx.execute("DELETE FROM cluster_registrations WHERE uri = ? AND match = ? AND node NOT IN (SELECT node FROM "
               "nodes)", (uri, match))
    for row in tx.query("SELECT node, invoke FROM cluster_registrations WHERE uri = ? AND match = ? AND node <> ?",
                        (uri, match, node)):
        if row["invoke"] == "single" or invoke == "single":
            raise Refused("exists", f"{uri} is already registered (on node {row['node']})")
        if row["invoke"] != invoke:
            raise Refused("policy", f"{uri} is registered with invoke={row['invoke']}")
    tx.execute("INSERT INTO cluster_registrations (node, uri, match, invoke, created) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (node, uri, match) DO UPDATE SET invoke = excluded.invoke", (node, uri, match, invoke, now))


def release(tx, node: str, uri: str, match: str) -> None:
    tx.execute("DELETE FROM cluster_registrations WHERE node = ? AND uri = ? AND match = ?", (node, uri, match))


def release_all(tx, node: str) -> None:
    tx.execute("DELETE FROM cluster_registrations WHERE node = ?", (node,))


def others(tx, node: str) -> tuple:
    """(the live nodes but ``node``, the set of (node, uri, match, invoke) they registered), oldest first."""
    nodes = [r["node"] for r in tx.query("SELECT node FROM nodes WHERE node <> ?", (node,))]
    rows = tx.query("SELECT r.node, r.uri, r.match, r.invoke FROM cluster_registrations r JOIN nodes n "
                    "ON n.node = r.node WHERE r.node <> ? ORDER BY r.created, r.node", (node,))
    return nodes, [(r["node"], r["uri"], r["match"], r["invoke"]) for r in rows]
