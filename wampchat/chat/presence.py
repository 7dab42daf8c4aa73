"""
Presence: sessions coming and going on this node, and who came online or went offline in the cluster.

This node's sessions are kept in :class:`~wampchat.chat.sessions.NodeSessions`;
a user's first session here and last one leaving are told to the
:class:`~wampchat.chat.cluster_presence.ClusterPresence`, which decides
whether the user came online or went offline in the whole cluster and hands
that change back to :meth:`Presence.announce` to publish in the user's rooms.
"""
from wampchat.chat.context import ChatContext
from wampchat.chat.typing_timers import TypingTimers
from wampchat.router.authorize import TRUSTED

STARTING, SERVING, STOPPED = "starting", "serving", "stopped"


class Presence:
    """Follows the realm's session meta events and announces presence changes to rooms."""

    def __init__(self, ctx: ChatContext, typing: TypingTimers) -> None:
        self._ctx = ctx
        self._typing = typing   # a user gone from the node stops typing everywhere
        self.cluster = None     # a ClusterPresence, set by the runtime before joining
        self._state = STARTING
        self._early: list = []  # changes found while starting (a previous run's users), told once serving

    def serve(self) -> None:
        """The service joined: announce what was found while starting, and every change from now on."""
        self._state = SERVING
        early, self._early = self._early, []
        for change in early:
            self.announce(change)

    def stop(self) -> None:
        """The service left: the other nodes take over announcing."""
        self._state = STOPPED

    # -- wamp.session.on_join / on_leave ----------------------------------------------------
    def session_joined(self, details):
        role = details.get("authrole")
        if role == TRUSTED or details.get("authmethod") == "internal":
            return
        sessions, authid = self._ctx.sessions, details["authid"]
        if sessions.session(details["session"]) is not None:
            return
        if role == "guest":
            nick = (details.get("authextra") or {}).get("nick") or authid
        else:
            nick = sessions.expected_nick(details["session"]) or authid
        if sessions.joined(details["session"], authid, role, nick, self._ctx.now()):
            self.cluster.arrived(authid, role, nick)

    async def session_left(self, session_id, authid=None, authrole=None):
        gone = self._ctx.sessions.left(session_id)
        if gone is None:
            return
        authid, role, nick, last_here = gone
        if not last_here:
            return
        for room_id in self._typing.stop_user(authid):
            room = self._ctx.rooms.peek(room_id) or await self._ctx.rooms.get(room_id)
            if room is not None:
                await self._ctx.publish_room(room, "typing", {"user": authid, "nick": nick, "typing": False})
        await self.cluster.departed(authid, role, nick)

    # -- the cluster decided --------------------------------------------------------------
    def announce(self, change):
        """A user came online or went offline in the cluster (this node decided): tell their rooms."""
        if self._state != SERVING:
            if self._state == STARTING:
                self._early.append(change)
            return
        event = "online" if change.online else "offline"
        user, nick = change.user, change.nick
        for room_id, audience in change.rooms:
            self._ctx.publish(room_id, "presence", {"user": user, "nick": nick, "event": event}, audience)
            if change.left:
                self._ctx.publish(room_id, "presence", {"user": user, "nick": nick, "event": "leave"}, audience)
