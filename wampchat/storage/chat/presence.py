"""
Presence rows of the whole cluster: the ``nodes`` alive (heartbeats) and who is ``online`` on which node.

Whether a user came online or went offline *in the cluster* is decided in
the transaction that writes the row, with that user locked, so exactly one
node announces each change. The logic around these transactions (group
commit, heartbeats, announcing) is the chat service's cluster presence.
"""
from wampchat.storage.chat.members import remove_memberships, rooms_of
from wampchat.storage.chat.rows import name_key

GUEST_SWEEP_AGE_MS = 60_000   # a guest membership with no online row, older than this, is left over
_USER_LOCK = 0x77637072       # "wcpr": the lock space of a user's presence changes


class PresenceChange:
    """A user came online or went offline in the cluster: who, shown as, and their rooms.

    ``rooms`` is ``[(room_id, members or None)]`` as :func:`~wampchat.storage.chat.members.rooms_of`
    gives it; ``left`` is True when the user was a guest whose memberships ended with it.
    """

    __slots__ = ("user", "nick", "online", "rooms", "left")

    def __init__(self, user, nick, online, rooms, left=False):
        self.user = user
        self.nick = nick
        self.online = online
        self.rooms = rooms
        self.left = left


def _lock_user(tx, user):
    """Presence changes of one user are serialized across nodes (until commit)."""
    tx.engine.lock_key(tx, _USER_LOCK, user)


def register(tx, node, instance, shared):
    """Enter the node table; returns the changes left behind by an earlier run (or by everyone, unshared)."""
    now = tx.one(f"SELECT {tx.engine.now_ms_sql()} AS now")["now"]
    stale = [node] if shared else [r["node"] for r in tx.query("SELECT node FROM nodes")]
    if not shared:
        stale += [r["node"] for r in tx.query("SELECT DISTINCT node FROM online")]
    changes = []
    for old in sorted(set(stale)):
        changes += clear_node(tx, old)
    tx.execute("INSERT INTO nodes (node, instance, started, heartbeat) VALUES (?, ?, ?, ?)",
               (node, instance, now, now))
    changes += sweep_guests(tx, now)
    return changes


def clear_node(tx, node):
    """Remove a node and its users' online rows; the cluster-wide offline changes that result."""
    tx.execute("DELETE FROM nodes WHERE node = ?", (node,))
    tx.execute("DELETE FROM cluster_registrations WHERE node = ?", (node,))   # its callees went with it
    changes = []
    for row in tx.query("SELECT username, role, nick FROM online WHERE node = ? ORDER BY username", (node,)):
        change = went_offline(tx, row["username"], node, row["role"], row["nick"])
        if change is not None:
            changes.append(change)
    return changes


def came_online(tx, user, node, role, nick, arrived_ms):
    """``user``'s first session on ``node``; the PresenceChange when no other node hosts them, else None."""
    _lock_user(tx, user)
    others = tx.one("SELECT COUNT(*) AS n FROM online WHERE username = ? AND node != ?", (user, node))["n"]
    tx.execute("INSERT INTO online (username, node, role, nick, nick_key) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (username, node) DO UPDATE SET nick = excluded.nick, nick_key = excluded.nick_key",
               (user, node, role, nick, name_key(nick)))
    if others:
        return None
    # rooms joined since the session arrived announced "join" already, which says as much
    return PresenceChange(user, nick, True, rooms_of(tx, user, joined_before=arrived_ms))


def went_offline(tx, user, node, role, nick, _arrived_ms=None):
    """``user``'s last session on ``node`` ended; the PresenceChange when no other node hosts them, else None."""
    _lock_user(tx, user)
    tx.execute("DELETE FROM online WHERE username = ? AND node = ?", (user, node))
    if tx.one("SELECT 1 AS x FROM online WHERE username = ?", (user,)) is not None:
        return None
    if role == "guest":  # guests are not accounts: their memberships end with them
        return PresenceChange(user, nick, False, remove_memberships(tx, user), left=True)
    return PresenceChange(user, nick, False, rooms_of(tx, user))


def record(tx, writes, node):
    """Arrivals and departures of several users in one transaction; the change of each, in their order.

    ``writes`` are ``(came_online or went_offline, user, role, nick, at_ms)``.
    Users are taken in name order, as :func:`clear_node` takes them, so two
    nodes locking the same users cannot deadlock.
    """
    changes = [None] * len(writes)
    for index in sorted(range(len(writes)), key=lambda i: writes[i][1]):
        change_fn, user, role, nick, at_ms = writes[index]
        changes[index] = change_fn(tx, user, node, role, nick, at_ms)
    return changes


def sweep_guests(tx, now):
    """Memberships of guests nobody hosts any more (a crash, an outage mid-leave): end them."""
    rows = tx.query("SELECT DISTINCT m.username AS username FROM members m WHERE m.username LIKE 'guest\\_%' "
                    "ESCAPE '\\' AND m.joined < ? AND NOT EXISTS (SELECT 1 FROM online o "
                    "WHERE o.username = m.username)", (now - GUEST_SWEEP_AGE_MS,))
    return [PresenceChange(r["username"], r["username"], False, remove_memberships(tx, r["username"]), left=True)
            for r in rows]


def beat(tx, node, instance, timeout_ms):
    """Heartbeat, then take over every node silent for ``timeout_ms``: (still registered?, changes, nodes)."""
    now = f"{tx.engine.now_ms_sql()}"
    tx.execute(f"UPDATE nodes SET heartbeat = {now} WHERE node = ? AND instance = ?", (node, instance))
    alive = tx.rowcount == 1
    changes = []
    dead = tx.query(f"SELECT node FROM nodes WHERE heartbeat < {now} - ? AND node != ?{tx.engine.for_update}",
                    (timeout_ms, node))
    for row in dead:
        changes += clear_node(tx, row["node"])
    if dead:
        changes += sweep_guests(tx, tx.one(f"SELECT {now} AS now")["now"])
    nodes = tx.query(f"SELECT node, {now} - heartbeat AS age FROM nodes ORDER BY node")
    return alive, changes, [(r["node"], r["age"]) for r in nodes]


def leave_cluster(tx, node, instance):
    """This run of ``node`` stops: its users go offline where no other node hosts them."""
    if tx.one("SELECT 1 AS x FROM nodes WHERE node = ? AND instance = ?", (node, instance)) is None:
        return []
    return clear_node(tx, node)
