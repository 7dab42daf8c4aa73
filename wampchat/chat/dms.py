"""``chat.dm.open`` and ``chat.dm.open_group``: the private room of two users, or of a group of three to ten, made
on first use (new ones are rate limited)."""
from wampchat.chat.checks import check_username
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import INVALID, NOT_FOUND, fail

GROUP_MIN, GROUP_MAX = 2, 9   # others in a group DM, besides the caller
TITLE_MAX = 100


class DirectMessages:
    """chat.dm.open and chat.dm.open_group."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.dm.open": self.dm_open, "chat.dm.open_group": self.open_group}

    async def _check_exists(self, username: str) -> None:
        ctx = self._ctx
        if not ctx.sessions.is_online(username) and await ctx.store.known_user(username) is None:
            fail(NOT_FOUND, f"no user {username!r}")

    async def _count_new(self, caller: Caller, details) -> None:
        """A new DM room counts against the caller's and their address's hourly limits."""
        ctx, settings = self._ctx, self._ctx.settings
        await ctx.counted("dm", [caller.user], settings.dm_rate,
                          f"at most {settings.dm_rate} new direct-message rooms per hour")
        await ctx.counted("dm_address", [ctx.address(details)], settings.dm_address_rate,
                          f"at most {settings.dm_address_rate} new direct-message rooms per hour from one address")

    async def dm_open(self, username=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        check_username(username)
        if username == caller.user:
            fail(INVALID, "a direct message needs someone else")
        await self._check_exists(username)
        if await ctx.store.find_dm(caller.user, username) is None:   # only a new DM room counts
            await self._count_new(caller, details)
        room, created = await ctx.store.open_dm(caller.user, username, ctx.now())
        ctx.rooms.put(room)
        if created:
            ctx.notify(username, {"event": "dm", "room": room})
        return room

    async def open_group(self, usernames=None, details=None):
        """The group DM of the caller and ``usernames`` (2–9 others): the same set of people always gets the same
        room; its id tells nothing of who is in it, and nobody is invited later."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        if not isinstance(usernames, list) or not GROUP_MIN <= len(set(usernames)) <= GROUP_MAX:
            fail(INVALID, f"usernames must be a list of {GROUP_MIN} to {GROUP_MAX} other users")
        others = sorted({check_username(name, "usernames") for name in usernames} - {caller.user})
        if len(others) < GROUP_MIN:
            fail(INVALID, f"a group DM needs at least {GROUP_MIN} people besides you")
        for username in others:
            await self._check_exists(username)
        people = [caller.user, *others]
        if await ctx.store.find_group(people) is None:
            await self._count_new(caller, details)
        title = ", ".join(sorted(people))
        title = title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"
        room, created = await ctx.store.open_group(caller.user, people, title, ctx.now())
        ctx.rooms.put(room)
        if created:
            for username in others:
                ctx.notify(username, {"event": "dm", "room": room})
        return room
