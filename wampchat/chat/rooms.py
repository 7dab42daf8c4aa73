"""``chat.room.*``: creating, listing, joining, leaving, inviting, and who is a member."""
from wampchat.chat import checks
from wampchat.chat.authorization import may_create_rooms, may_invite, readable_room, refuse_sanctioned
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.storage.chat.members import NOTIFY_LEVELS

LOBBY = "lobby"


class Rooms:
    """chat.room.create, list, join, leave, invite and members."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.room.create": self.room_create, "chat.room.list": self.room_list,
                "chat.room.join": self.room_join, "chat.room.leave": self.room_leave,
                "chat.room.invite": self.room_invite, "chat.room.members": self.room_members,
                "chat.room.notify": self.room_notify}

    async def create_lobby(self) -> None:
        """The lobby exists from the first start on (creating it again changes nothing)."""
        await self._ctx.store.create_room(LOBBY, "Lobby", False, None, self._ctx.now())

    async def room_create(self, room_id=None, title=None, private=False, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        if not may_create_rooms(caller):
            fail(FORBIDDEN, "creating rooms needs an account; guests may join public rooms")
        checks.check_room_id(room_id, creating=True)
        title = checks.check_title(title, room_id)
        checks.check_bool(private, "private")
        await ctx.counted("create", [caller.user], ctx.settings.create_rate,
                          f"at most {ctx.settings.create_rate} new rooms per hour")
        now = ctx.now()
        if not await ctx.store.create_room(room_id, title, private, caller.user, now, [caller.user]):
            fail(CONFLICT, f"a room {room_id!r} exists already")
        room = {"id": room_id, "title": title, "private": private, "owner": caller.user, "created": now,
                "topic": "", "read_only": False, "slow_mode": 0, "retention_days": 0, "dm": False}
        ctx.rooms.put(room)
        if not private:
            ctx.routes.publish("chat.rooms", [{"event": "created", "room": room}])
        return room

    async def room_list(self, after=None, limit=None, details=None):
        """The rooms the caller can see, oldest first: up to ``limit`` (1..500, default 500) after the room
        ``after``; a full page means there may be more."""
        caller = await self._ctx.caller(details)
        if after is not None:
            checks.check_room_id(after)
        limit = checks.check_limit(limit, checks.ROOMS_MAX, checks.ROOMS_MAX)
        return await self._ctx.store.visible_rooms(caller.user, after, limit)

    async def room_join(self, room_id=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        await refuse_sanctioned(ctx, caller, room_id, muted_too=False)
        await self._add_member(room, caller.user, caller.nick)
        room = await ctx.store.get_room(room_id) or room   # the settings as they are now, not as cached
        room = dict(room, pinned=await ctx.store.pinned_ids(room_id))
        page = await ctx.store.join_page(room_id, limit=checks.HISTORY_DEFAULT)
        members = await self._member_list(room_id, None, checks.MEMBERS_MAX + 1)
        shown, more = members[:checks.MEMBERS_MAX], len(members) > checks.MEMBERS_MAX
        return {"room": room, "members": shown, "members_more": more,
                "history": page["messages"], "more": page["more"], "changes": page["changes"], "reads": page["reads"]}

    async def room_leave(self, room_id=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        if not await ctx.store.remove_member(room_id, caller.user):
            fail(NOT_FOUND, f"you are not a member of {room_id!r}")
        await ctx.publish_room(room, "presence", {"user": caller.user, "nick": caller.nick, "event": "leave"})
        return None

    async def room_invite(self, room_id=None, username=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        checks.check_username(username)
        if not room["private"]:
            fail(INVALID, "public rooms need no invitation: anyone may join")
        if (await ctx.store.get_room(room_id) or room).get("dm"):
            fail(INVALID, "nobody joins a DM later: open a DM or a group DM with the people you want")
        if not may_invite(caller, room):
            fail(FORBIDDEN, "only the room's owner or an admin may invite")
        nick = await ctx.store.display_name(username)
        if nick is None:
            fail(NOT_FOUND, f"no user {username!r}")
        if await ctx.store.sanction(room_id, username, None, ctx.now()) == "ban":
            fail(FORBIDDEN, f"{username!r} is banned from {room_id!r}; unban them first")
        await self._add_member(room, username, nick)
        ctx.notify(username, {"event": "invited", "room": await ctx.store.get_room(room_id) or room})
        return None

    async def room_notify(self, room_id=None, level=None, details=None):
        """How much of the room the caller wants to hear: ``all``, ``mentions`` or ``none`` (which silences mention
        notifications too); a member's choice, shown in chat.room.list."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        await readable_room(ctx, caller, room_id)
        if level not in NOTIFY_LEVELS:
            fail(INVALID, f"level must be one of {', '.join(NOTIFY_LEVELS)}")
        if not await ctx.store.set_notify(room_id, caller.user, level):
            fail(FORBIDDEN, f"join {room_id!r} first: notification levels are a member's")
        return None

    async def room_members(self, room_id=None, after=None, limit=None, details=None):
        """Members by username, at most ``limit`` (1..1000, all of them up to 1000 by default) after ``after``."""
        caller = await self._ctx.caller(details)
        await readable_room(self._ctx, caller, room_id)
        if after is not None:
            checks.check_username(after, "after")
        limit = checks.check_limit(limit, checks.MEMBERS_MAX, checks.MEMBERS_MAX)
        return await self._member_list(room_id, after, limit)

    async def _member_list(self, room_id, after, limit):
        result = []
        for user, display_name, online_nick, role in await self._ctx.store.members(room_id, after, limit):
            here = self._ctx.sessions.nick_of(user)
            online = online_nick is not None or here is not None
            result.append({"user": user, "nick": display_name or online_nick or here or user, "online": online,
                           "role": role})
        return result

    async def _add_member(self, room, user, nick):
        """Make ``user`` a member (committed), then announce it; True if new."""
        added = await self._ctx.store.add_member(room["id"], user, self._ctx.now())
        if added:
            await self._ctx.publish_room(room, "presence", {"user": user, "nick": nick, "event": "join"})
        return added
