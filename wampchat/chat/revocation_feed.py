"""
What a moderation or account change does to sessions, on every node: the node that made the change applies it
to its own sessions at once, and every other node within about a second.

The change's transaction appends a row to the revocations feed
(:mod:`wampchat.storage.chat.revocations`); this node reads the other nodes'
rows every :data:`POLL_INTERVAL` seconds when its database is shared (an
embedded SQLite node is the only node there is) and applies each once:

- ``room``: the user's subscriptions to ``chat.room.<room>.*`` on this node
  are taken away in the router when the room is private (a kick or a ban);
- ``sessions``: the user's sessions on this node end with GOODBYE and the
  row's reason (a server ban, a changed password, a deleted account), but
  the one kept and those that joined after the change.

A banned guest's client address is known only to the node it is connected
to; that node writes it into the ban, so new guests from the address are
refused too.
"""
import uuid
from typing import Optional

from twisted.internet import defer, task
from twisted.logger import Logger

from wampchat.chat.context import ChatContext
from wampchat.chat.session_ends import BANNED, end_sessions, reason_text
from wampchat.storage import StoreError
from wampchat.storage.chat.revocations import KEPT_MS, ROOM, SESSIONS

POLL_INTERVAL = 1.0      # seconds between two reads of the feed
OVERLAP_MS = 30_000      # rows are read again this long (an id handed out earlier may commit later)
PRUNE_EVERY = 600        # polls between two deletions of rows older than KEPT_MS

log = Logger()


class RevocationFeed:
    """This node's side of the revocations feed: record a change, apply it here, apply the other nodes'."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx
        self.node = uuid.uuid4().hex
        self._applied: dict = {}   # row id -> ts, of rows applied (forgotten once out of the overlap)
        self._since = 0
        self._polls = 0
        self._loop: Optional[task.LoopingCall] = None

    # -- recording a change made on this node -------------------------------------------------
    def applied_here(self, kind: str, user: str, room: str | None = None, reason: str | None = None,
                     keep_session: int | None = None, ts: int | None = None) -> int:
        """Apply a change whose row this node just committed to this node's sessions; how many were touched."""
        return self._apply({"kind": kind, "username": user, "room": room, "reason": reason,
                            "keep_session": keep_session, "ts": ts if ts is not None else self._ctx.now()})

    async def end_sessions(self, user: str, reason: str, keep_session: int | None = None) -> int:
        """End ``user``'s sessions (but ``keep_session``) here at once and on every other node within seconds."""
        ctx, now = self._ctx, self._ctx.now()
        await ctx.store.add_revocation(now, self.node, SESSIONS, user, None, reason, keep_session)
        return self.applied_here(SESSIONS, user, None, reason, keep_session, now)

    # -- reading the other nodes' changes ----------------------------------------------------------
    def start(self) -> None:
        """Follow the feed, when the database is shared with other nodes."""
        if not self._ctx.store.engine.shared or self._loop is not None:
            return
        self._since = self._ctx.now()
        loop = self._loop = task.LoopingCall(self.poll)
        loop.clock = self._ctx.reactor
        loop.start(POLL_INTERVAL, now=False).addErrback(
            lambda f: log.failure("the revocations feed stopped", f))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    @defer.inlineCallbacks
    def poll(self):
        """Apply the other nodes' new rows; a database away for a while is retried at the next poll."""
        ctx = self._ctx
        try:
            rows = yield ctx.store.revocations_since(self._since - OVERLAP_MS, self.node)
            self._polls += 1
            if self._polls % PRUNE_EVERY == 0:
                yield ctx.store.prune_revocations(ctx.now() - KEPT_MS)
        except StoreError as e:
            log.warn("revocations not read, retrying in {s} s: {e}", s=POLL_INTERVAL, e=e)
            return
        for row in rows:
            if row["id"] not in self._applied:
                self._applied[row["id"]] = row["ts"]
                self._since = max(self._since, row["ts"])
                try:
                    self._apply(row)
                except Exception:
                    log.failure("a revocation could not be applied: {row}", row=row)
        horizon = self._since - 2 * OVERLAP_MS
        self._applied = {row_id: ts for row_id, ts in self._applied.items() if ts >= horizon}

    @property
    def applied_count(self) -> int:
        """How many of the other nodes' rows this node applied lately (within the overlap)."""
        return len(self._applied)

    # -- applying ----------------------------------------------------------------------------------
    def _apply(self, row: dict) -> int:
        ctx, user = self._ctx, row["username"]
        if row["kind"] == ROOM:
            touched = self._revoke_room(user, row["room"])
        elif row["kind"] == SESSIONS:
            touched = end_sessions(ctx.realm, ctx.reactor, user, row["reason"], reason_text(row["reason"]),
                                   keep=row["keep_session"], joined_before=row["ts"], joined_at=ctx.sessions.joined_at)
        else:
            return 0
        if row["reason"] in ("ban", BANNED) and user.startswith("guest_"):
            self._record_guest_address(user, row["room"])
        return touched

    def _revoke_room(self, user: str, room_id: str) -> int:
        """Take ``user``'s subscriptions to a private room's topics away here. A public room's stay: anyone signed
        in may read it, and a client that joins again after a kick keeps its subscriptions working."""
        room = self._ctx.rooms.peek(room_id)
        if room is not None and not room["private"]:
            return 0
        realm, revoked = self._ctx.realm, 0
        for session_id in self._ctx.sessions.session_ids(user):
            session = realm.session(session_id)
            if session is not None:
                revoked += realm.broker.revoke(session, f"chat.room.{room_id}.")
        return revoked

    def _record_guest_address(self, user: str, room_id: str | None) -> None:
        ctx = self._ctx
        address = ctx.guest_address(user)
        if address is not None:
            defer.ensureDeferred(ctx.store.record_guest_address(room_id, user, address)).addErrback(
                lambda f: log.warn("a banned guest's address was not recorded: {e}", e=f.value))
