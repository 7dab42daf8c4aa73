"""
Presence for the whole cluster, kept in the shared database.

Each node knows its own sessions in memory (:class:`~wampchat.chat.presence.Presence`)
and writes one ``online`` row per user it hosts, when that user's first
session arrives and removes it when the last one leaves. Whether a user came
online or went offline *in the cluster* is decided in the same transaction,
with that user locked, so exactly one node announces each change even when
the user's sessions on two nodes end at the same moment. Changes that queue
while one transaction commits are written together in the next (group commit).

Each node beats (``nodes.heartbeat``, the database's clock) every
``heartbeat`` seconds. A node silent for ``timeout`` seconds is dead: the
first node to delete its row (only one can) takes its users offline and
announces it. A node that starts again with the same id first clears what
its previous run left, so it leaves no ghosts; an embedded (SQLite) node
clears every row, since it is the only node there is.
"""
import uuid

from twisted.internet import defer, task
from twisted.logger import Logger

from wampchat.chat.model import name_key
from wampchat.chat.store import remove_memberships, rooms_of
from wampchat.storage import StoreError

GUEST_SWEEP_AGE_MS = 60_000   # a guest membership with no online row, older than this, is left over


class PresenceChange:
    """A user came online or went offline in the cluster: who, shown as, and their rooms.

    ``rooms`` is ``[(room_id, members or None)]`` as :func:`~wampchat.chat.store.rooms_of`
    gives it; ``left`` is True when the user was a guest whose memberships ended with it.
    """

    __slots__ = ("user", "nick", "online", "rooms", "left")

    def __init__(self, user, nick, online, rooms, left=False):
        self.user = user
        self.nick = nick
        self.online = online
        self.rooms = rooms
        self.left = left


# -- transactions ---------------------------------------------------------------------
def _register(tx, node, instance, shared):
    """Enter the node table; returns the changes left behind by an earlier run (or by everyone, unshared)."""
    now = tx.one(f"SELECT {tx.engine.now_ms_sql()} AS now")["now"]
    stale = [node] if shared else [r["node"] for r in tx.query("SELECT node FROM nodes")]
    if not shared:
        stale += [r["node"] for r in tx.query("SELECT DISTINCT node FROM online")]
    changes = []
    for old in sorted(set(stale)):
        changes += _clear_node(tx, old)
    tx.execute("INSERT INTO nodes (node, instance, started, heartbeat) VALUES (?, ?, ?, ?)",
               (node, instance, now, now))
    changes += _sweep_guests(tx, now)
    return changes


def _clear_node(tx, node):
    """Remove a node and its users' online rows; the cluster-wide offline changes that result."""
    tx.execute("DELETE FROM nodes WHERE node = ?", (node,))
    changes = []
    for row in tx.query("SELECT username, role, nick FROM online WHERE node = ? ORDER BY username", (node,)):
        change = _went_offline(tx, row["username"], node, row["role"], row["nick"])
        if change is not None:
            changes.append(change)
    return changes


def _came_online(tx, user, node, role, nick, arrived_ms):
    tx.engine.lock_user(tx, user)
    others = tx.one("SELECT COUNT(*) AS n FROM online WHERE username = ? AND node != ?", (user, node))["n"]
    tx.execute("INSERT INTO online (username, node, role, nick, nick_key) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (username, node) DO UPDATE SET nick = excluded.nick, nick_key = excluded.nick_key",
               (user, node, role, nick, name_key(nick)))
    if others:
        return None
    # rooms joined since the session arrived announced "join" already, which says as much
    return PresenceChange(user, nick, True, rooms_of(tx, user, joined_before=arrived_ms))


def _record(tx, writes, node):
    """Arrivals and departures of several users in one transaction; the change of each, in their order.

    Users are taken in name order, as :func:`_clear_node` takes them, so two
    nodes locking the same users cannot deadlock.
    """
    changes = [None] * len(writes)
    for index in sorted(range(len(writes)), key=lambda i: writes[i][1]):
        change_fn, user, role, nick, at_ms = writes[index]
        changes[index] = change_fn(tx, user, node, role, nick, at_ms)
    return changes


def _went_offline(tx, user, node, role, nick, _arrived_ms=None):
    tx.engine.lock_user(tx, user)
    tx.execute("DELETE FROM online WHERE username = ? AND node = ?", (user, node))
    if tx.one("SELECT 1 AS x FROM online WHERE username = ?", (user,)) is not None:
        return None
    if role == "guest":  # guests are not accounts: their memberships end with them
        return PresenceChange(user, nick, False, remove_memberships(tx, user), left=True)
    return PresenceChange(user, nick, False, rooms_of(tx, user))


def _sweep_guests(tx, now):
    """Memberships of guests nobody hosts any more (a crash, an outage mid-leave): end them."""
    rows = tx.query("SELECT DISTINCT m.username AS username FROM members m WHERE m.username LIKE 'guest\\_%' "
                    "ESCAPE '\\' AND m.joined < ? AND NOT EXISTS (SELECT 1 FROM online o "
                    "WHERE o.username = m.username)", (now - GUEST_SWEEP_AGE_MS,))
    return [PresenceChange(r["username"], r["username"], False, remove_memberships(tx, r["username"]), left=True)
            for r in rows]


def _beat(tx, node, instance, timeout_ms):
    """Heartbeat, then take over every node silent for ``timeout_ms``: (still registered?, changes, nodes)."""
    now = f"{tx.engine.now_ms_sql()}"
    tx.execute(f"UPDATE nodes SET heartbeat = {now} WHERE node = ? AND instance = ?", (node, instance))
    alive = tx.rowcount == 1
    changes = []
    dead = tx.query(f"SELECT node FROM nodes WHERE heartbeat < {now} - ? AND node != ?{tx.engine.for_update}",
                    (timeout_ms, node))
    for row in dead:
        changes += _clear_node(tx, row["node"])
    if dead:
        changes += _sweep_guests(tx, tx.one(f"SELECT {now} AS now")["now"])
    nodes = tx.query(f"SELECT node, {now} - heartbeat AS age FROM nodes ORDER BY node")
    return alive, changes, [(r["node"], r["age"]) for r in nodes]


def _leave_cluster(tx, node, instance):
    if tx.one("SELECT 1 AS x FROM nodes WHERE node = ? AND instance = ?", (node, instance)) is None:
        return []
    return _clear_node(tx, node)


class KeyedSerializer:
    """Runs work for one key strictly one after another (a user's arrivals and departures on this node)."""

    def __init__(self):
        self._locks = {}

    def run(self, key, fn, *args):
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = defer.DeferredLock()
        d = lock.run(fn, *args)
        d.addBoth(self._forget, key, lock)
        return d

    def drain(self):
        """Fires when every key's queued work has run (nothing new may be queued meanwhile)."""
        return defer.DeferredList([lock.run(lambda: None) for lock in list(self._locks.values())])

    def _forget(self, result, key, lock):
        if not lock.locked and self._locks.get(key) is lock:
            del self._locks[key]
        return result


class ClusterPresence:
    """The node's part in cluster-wide presence; ``on_change(PresenceChange)`` is told what to announce."""

    log = Logger()

    def __init__(self, database, node_id, clock, on_change, heartbeat=5.0, timeout=15.0):
        self._db = database
        self.node_id = node_id
        self.instance = uuid.uuid4().hex
        self._clock = clock
        self._on_change = on_change
        self.heartbeat = heartbeat
        self.timeout = timeout
        self._serial = KeyedSerializer()
        # a reconnect storm (a node restarted, a network blip) is thousands of arrivals: one commit each
        # would make every join wait behind all the fsyncs before it
        self._writes = database.group_commit(_record, self.node_id)
        self._hosted = {}     # user -> (role, nick): users with an online row written by this node
        self._loop = None
        self.nodes = []       # [(node id, ms since its last heartbeat)] as of the last beat
        self._nodes_read_at = 0.0  # when (clock seconds) ``nodes`` was read
        self.state = "starting"
        self._left = False    # stopped: sessions ending now change nothing (their rows went with the node)

    async def start(self):
        """Register this node (clearing what an earlier run left) and start beating."""
        changes = await self._db.run(_register, self.node_id, self.instance, self._db.engine.shared)
        self._announce(changes)
        self.state = "ok"
        self._loop = task.LoopingCall(self._beat)
        self._loop.clock = self._clock
        self._loop.start(self.heartbeat, now=True).addErrback(self._loop_died)

    async def stop(self):
        """Leave the cluster: this node's users go offline where they have no other node. Once is enough."""
        if self._left:
            return
        self._left = True
        self.state = "stopped"
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        # an arrival still being written would otherwise commit after we left, or never
        await self._serial.drain()
        try:
            self._announce(await self._db.run(_leave_cluster, self.node_id, self.instance))
        except StoreError as e:
            self.log.warn("could not leave the cluster cleanly: {e}", e=e)

    # -- this node's users --------------------------------------------------------------
    def arrived(self, user, role, nick):
        """The first session of ``user`` on this node joined."""
        if self._left:
            return defer.succeed(None)
        self._hosted[user] = (role, nick)
        return self._serial.run(user, self._write, _came_online, user, role, nick, self._now_ms())

    def departed(self, user, role, nick):
        """The last session of ``user`` on this node left."""
        if self._left:
            return defer.succeed(None)
        self._hosted.pop(user, None)
        return self._serial.run(user, self._write, _went_offline, user, role, nick, self._now_ms())

    def _now_ms(self):
        return int(self._clock.seconds() * 1000)

    async def _write(self, change_fn, user, role, nick, at_ms):
        try:
            change = await self._writes.submit((change_fn, user, role, nick, at_ms))
        except StoreError as e:
            self.log.warn("presence of {user} not recorded: {e}", user=user, e=e)
            return
        if change is not None:
            self._announce([change])

    # -- heartbeats -------------------------------------------------------------------
    async def _beat(self):
        try:
            alive, changes, nodes = await self._db.run(_beat, self.node_id, self.instance, int(self.timeout * 1000))
        except StoreError as e:
            self.state = "database unavailable"
            self.log.warn("heartbeat failed: {e}", e=e)
            return
        self.state = "ok"
        self.nodes, self._nodes_read_at = nodes, self._clock.seconds()
        self._announce(changes)
        if not alive:
            await self._rejoin()

    async def _rejoin(self):
        """Others took us for dead (we stalled past the timeout): register again with our users."""
        self.log.warn("node {node} was taken for dead by the cluster; registering again", node=self.node_id)
        self.instance = uuid.uuid4().hex
        self._announce(await self._db.run(_register, self.node_id, self.instance, True))
        for user, (role, nick) in list(self._hosted.items()):
            self._serial.run(user, self._write, _came_online, user, role, nick, self._now_ms())

    def _loop_died(self, failure):
        self.state = "stopped"
        self.log.failure("presence heartbeat stopped", failure)

    def _announce(self, changes):
        for change in changes:
            try:
                self._on_change(change)
            except Exception:
                self.log.failure("announcing presence of {user} failed", user=change.user)

    def health(self):
        """What /healthz shows under "nodes": the nodes alive now, each with its heartbeat's age now.

        The list was read at the last beat; ages are brought forward to now,
        and a node silent past the timeout is left out at once (the cluster
        takes it for dead from that moment), not at this node's next beat.
        """
        since_ms = round((self._clock.seconds() - self._nodes_read_at) * 1000)
        timeout_ms = int(self.timeout * 1000)
        shown = []
        for node, age in self.nodes:
            itself = node == self.node_id
            age += since_ms
            if itself or age <= timeout_ms:
                shown.append({"node": node, "heartbeat_age_ms": age, "self": itself})
        return shown
