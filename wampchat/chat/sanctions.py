"""
``chat.room.kick``, ``ban``, ``unban``, ``bans``, ``mute`` and ``unmute``: a room's moderators keeping it
usable (API §8).

Who may act on whom: moderator+ (the room's moderators, its owner, server
admins) act on members of a lower room role only; nobody but an admin acts on
an admin; nobody acts on themselves. A kick or ban ends the membership at
once and takes the user's subscriptions to the room's topics away on every
node (:class:`~wampchat.chat.revocation_feed.RevocationFeed`); a ban then
refuses join, send and react (and every read of a private room) until it
ends; a mute lets the member read but not send, react or type. Each action
is written with its audit entry in one transaction and announced after it
committed: ``presence`` in the room, ``notify`` to the user acted on.
"""
from wampchat.chat import checks
from wampchat.chat.authorization import ROLE_RANK, is_moderator, room_role
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.chat.moderation import Moderation
from wampchat.chat.revocation_feed import RevocationFeed
from wampchat.storage.chat.revocations import ROOM

REASON_MAX = 500
DURATION_MAX = 10 * 365 * 86400   # ten years, in seconds; longer is "until unbanned"


def check_reason(reason) -> str | None:
    """An optional reason: a string of at most REASON_MAX characters (blank counts as none)."""
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        fail(INVALID, f"reason must be a string of at most {REASON_MAX} characters")
    return reason.strip() or None


def check_duration(duration) -> int | None:
    """An optional duration in seconds (1..ten years); None means until lifted."""
    if duration is None:
        return None
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 1 <= duration <= DURATION_MAX:
        fail(INVALID, f"duration must be a number of seconds from 1 to {DURATION_MAX} (leave it out: until lifted)")
    return int(duration)


class Sanctions:
    """chat.room.kick, ban, unban, bans, mute and unmute."""

    def __init__(self, ctx: ChatContext, moderation: Moderation, feed: RevocationFeed) -> None:
        self._ctx = ctx
        self._moderation = moderation
        self._feed = feed

    def procedures(self) -> dict:
        return {"chat.room.kick": self.kick, "chat.room.ban": self.ban, "chat.room.unban": self.unban,
                "chat.room.bans": self.bans, "chat.room.mute": self.mute, "chat.room.unmute": self.unmute}

    async def _moderator(self, details, room_id) -> tuple:
        """(caller, room) when the caller is moderator+ of the room; forbidden otherwise."""
        caller = await self._ctx.caller(details)
        room = await self._moderation.room_of(caller, room_id)
        if not await is_moderator(self._ctx, caller, room):
            fail(FORBIDDEN, "only the room's moderators, its owner or an admin may do this")
        return caller, room

    async def _target(self, caller: Caller, room: dict, username, action: str) -> str:
        """The user acted on, checked: someone known, not the caller, of a lower rank than the caller."""
        ctx = self._ctx
        account = await self._outranked(caller, room, username, action)
        if account is None and await room_role(ctx, username, room) is None and not ctx.sessions.is_online(username):
            fail(NOT_FOUND, f"no user {username!r}")
        return username

    async def _outranked(self, caller: Caller, room: dict, username, action: str) -> dict | None:
        """Check that the caller may act on ``username`` (or lift a sanction on them, which may be a guest long
        gone): not themselves, nobody but an admin on an admin, else only on a lower room role. Their account."""
        ctx = self._ctx
        checks.check_username(username)
        if username == caller.user:
            fail(INVALID, f"you cannot {action} yourself")
        account = await ctx.store.get_user(username)
        if account is not None and account.get("role") == "admin" and not caller.is_admin:
            fail(FORBIDDEN, f"only an admin may {action} an admin")
        if not caller.is_admin:
            mine = ROLE_RANK[await room_role(ctx, caller.user, room) or "member"]
            if ROLE_RANK[await room_role(ctx, username, room) or "member"] >= mine:
                fail(FORBIDDEN, f"you cannot {action} someone whose role is equal to or above yours")
        return account

    def _nick(self, username: str) -> str:
        return self._ctx.sessions.nick_of(username) or username

    def _until(self, duration: int | None) -> int | None:
        return None if duration is None else self._ctx.now() + duration * 1000

    async def _removed(self, room: dict, username: str, event: dict, notice: dict) -> None:
        """After a kick or ban committed: take the user's subscriptions away here (other nodes follow the
        feed), tell the room and the user."""
        ctx = self._ctx
        self._feed.applied_here(ROOM, username, room["id"], event["event"])
        await ctx.publish_room(room, "presence", event)
        ctx.notify(username, notice)

    # -- the procedures ------------------------------------------------------------------------
    async def kick(self, room_id=None, username=None, reason=None, details=None) -> None:
        caller, room = await self._moderator(details, room_id)
        username = await self._target(caller, room, username, "kick")
        reason = check_reason(reason)
        ctx = self._ctx
        if not await ctx.store.kick(room["id"], username, caller.user, reason, ctx.now(), self._feed.node):
            fail(NOT_FOUND, f"{username!r} is not a member of {room['id']!r}")
        await self._removed(room, username,
                            {"user": username, "nick": self._nick(username), "event": "kick", "by": caller.user,
                             "reason": reason},
                            {"event": "kicked", "room": room["id"], "by": caller.user, "reason": reason})
        return None

    async def ban(self, room_id=None, username=None, reason=None, duration=None, details=None) -> None:
        caller, room = await self._moderator(details, room_id)
        username = await self._target(caller, room, username, "ban")
        reason, until = check_reason(reason), self._until(check_duration(duration))
        ctx = self._ctx
        await ctx.store.ban(room["id"], username, ctx.guest_address(username), caller.user, reason, ctx.now(), until,
                            self._feed.node)
        await self._removed(room, username,
                            {"user": username, "nick": self._nick(username), "event": "ban", "by": caller.user,
                             "reason": reason, "until": until},
                            {"event": "banned", "room": room["id"], "by": caller.user, "reason": reason,
                             "until": until})
        return None

    async def unban(self, room_id=None, username=None, details=None) -> None:
        caller, room = await self._moderator(details, room_id)
        await self._outranked(caller, room, username, "unban")   # not oneself, nor an equal or higher role
        if not await self._ctx.store.unban(room["id"], username, caller.user, self._ctx.now()):
            fail(NOT_FOUND, f"{username!r} is not banned from {room['id']!r}")
        return None

    async def bans(self, room_id=None, details=None) -> list:
        _, room = await self._moderator(details, room_id)
        return await self._ctx.store.bans(room["id"], self._ctx.now())

    async def mute(self, room_id=None, username=None, duration=None, reason=None, details=None) -> None:
        caller, room = await self._moderator(details, room_id)
        username = await self._target(caller, room, username, "mute")
        reason, until = check_reason(reason), self._until(check_duration(duration))
        ctx = self._ctx
        await ctx.store.mute(room["id"], username, caller.user, reason, ctx.now(), until)
        await ctx.publish_room(room, "presence", {"user": username, "nick": self._nick(username), "event": "mute",
                                                  "by": caller.user, "until": until})
        ctx.notify(username, {"event": "muted", "room": room["id"], "by": caller.user, "until": until})
        return None

    async def unmute(self, room_id=None, username=None, details=None) -> None:
        caller, room = await self._moderator(details, room_id)
        await self._outranked(caller, room, username, "unmute")   # a muted moderator may not unmute themselves
        ctx = self._ctx
        if not await ctx.store.unmute(room["id"], username, caller.user, ctx.now()):
            fail(NOT_FOUND, f"{username!r} is not muted in {room['id']!r}")
        await ctx.publish_room(room, "presence", {"user": username, "nick": self._nick(username),
                                                  "event": "unmute", "by": caller.user})
        ctx.notify(username, {"event": "unmuted", "room": room["id"], "by": caller.user})
        return None
