"""
Presence for the whole cluster, kept in the shared database.

Each node knows its own sessions in memory (:class:`~wampchat.chat.sessions.NodeSessions`)
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

The SQL of all this (and :class:`~wampchat.storage.chat.presence.PresenceChange`)
is :mod:`wampchat.storage.chat.presence`; this module is the node's side.
"""
import uuid

from twisted.internet import defer, task
from twisted.logger import Logger

from wampchat.storage import StoreError
from wampchat.storage.chat.presence import beat, came_online, leave_cluster, record, register, went_offline


class KeyedSerializer:
    """Runs work for one key strictly one after another (a user's arrivals and departures on this node).

    Work for a key with nothing under way starts at once; otherwise it waits for the work before it to
    end (succeeded or failed). No lock object per key: in a reconnect storm every user is a new key.
    """

    def __init__(self):
        self._tails = {}   # key -> Deferred firing (with None) when the last work queued for it has ended

    def run(self, key, fn, *args):
        """Deferred of ``fn(*args)``'s result, run once the work queued before it for ``key`` ended."""
        previous = self._tails.get(key)
        if previous is None:
            result = defer.maybeDeferred(fn, *args)
        else:
            result = defer.Deferred()
            previous.addCallback(self._start, fn, args, result)
        if result.called:
            return result   # done already: nothing for later work to wait on
        ended = defer.Deferred()
        self._tails[key] = ended
        result.addBoth(self._ended, key, ended)
        return result

    def drain(self):
        """Fires when every key's queued work has run (nothing new may be queued meanwhile)."""
        return defer.DeferredList([self.run(key, lambda: None) for key in list(self._tails)])

    @staticmethod
    def _start(_, fn, args, result) -> None:
        defer.maybeDeferred(fn, *args).chainDeferred(result)

    def _ended(self, result, key, ended):
        if self._tails.get(key) is ended:
            del self._tails[key]
        ended.callback(None)
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
        self._writes = database.group_commit(record, self.node_id)
        self._hosted = {}     # user -> (role, nick): users with an online row written by this node
        self._loop = None
        self.nodes = []       # [(node id, ms since its last heartbeat)] as of the last beat
        self._nodes_read_at = 0.0  # when (clock seconds) ``nodes`` was read
        self.state = "starting"
        self._left = False    # stopped: sessions ending now change nothing (their rows went with the node)

    async def start(self):
        """Register this node (clearing what an earlier run left) and start beating."""
        changes = await self._db.run(register, self.node_id, self.instance, self._db.engine.shared)
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
            self._announce(await self._db.run(leave_cluster, self.node_id, self.instance))
        except StoreError as e:
            self.log.warn("could not leave the cluster cleanly: {e}", e=e)

    # -- this node's users --------------------------------------------------------------
    def arrived(self, user, role, nick):
        """The first session of ``user`` on this node joined."""
        if self._left:
            return defer.succeed(None)
        self._hosted[user] = (role, nick)
        return self._serial.run(user, self._write, came_online, user, role, nick, self._now_ms())

    def departed(self, user, role, nick):
        """The last session of ``user`` on this node left."""
        if self._left:
            return defer.succeed(None)
        self._hosted.pop(user, None)
        return self._serial.run(user, self._write, went_offline, user, role, nick, self._now_ms())

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
            alive, changes, nodes = await self._db.run(beat, self.node_id, self.instance, int(self.timeout * 1000))
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
        self._announce(await self._db.run(register, self.node_id, self.instance, True))
        for user, (role, nick) in list(self._hosted.items()):
            self._serial.run(user, self._write, came_online, user, role, nick, self._now_ms())

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
