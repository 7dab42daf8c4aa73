"""``chat.dm.open``: the private room of two users, made on first use (new ones are rate limited)."""
from wampchat.chat.checks import check_username
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import INVALID, NOT_FOUND, fail


class DirectMessages:
    """chat.dm.open."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.dm.open": self.dm_open}

    async def dm_open(self, username=None, details=None):
        ctx, settings = self._ctx, self._ctx.settings
        caller = await ctx.caller(details)
        check_username(username)
        if username == caller.user:
            fail(INVALID, "a direct message needs someone else")
        if not ctx.sessions.is_online(username) and await ctx.store.known_user(username) is None:
            fail(NOT_FOUND, f"no user {username!r}")
        if await ctx.store.find_dm(caller.user, username) is None:   # only a new DM room counts
            await ctx.counted("dm", [caller.user], settings.dm_rate,
                              f"at most {settings.dm_rate} new direct-message rooms per hour")
            await ctx.counted("dm_address", [ctx.address(details)], settings.dm_address_rate,
                              f"at most {settings.dm_address_rate} new direct-message rooms per hour from "
                              "one address")
        room, created = await ctx.store.open_dm(caller.user, username, ctx.now())
        ctx.rooms.put(room)
        if created:
            ctx.notify(username, {"event": "dm", "room": room})
        return room
