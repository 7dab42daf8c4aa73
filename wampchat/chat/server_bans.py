"""
``chat.admin.ban``, ``chat.admin.unban`` and ``chat.admin.bans``: keeping someone off the whole server (API §8).

Admin only. A ban ends every session of the user on every node within
seconds (:class:`~wampchat.chat.revocation_feed.RevocationFeed`) and refuses
their logins with ABORT ``wampchat.error.banned`` until it ends
(:meth:`~wampchat.chat.authorization.ChatAuthorizer.check_join`); banning a
guest also refuses guest logins from its client address.
"""
from wampchat.chat import checks
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.chat.revocation_feed import RevocationFeed
from wampchat.chat.sanctions import check_duration, check_reason
from wampchat.chat.session_ends import BANNED
from wampchat.storage.chat.revocations import SESSIONS


class ServerBans:
    """chat.admin.ban, unban and bans."""

    def __init__(self, ctx: ChatContext, feed: RevocationFeed) -> None:
        self._ctx = ctx
        self._feed = feed

    def procedures(self) -> dict:
        return {"chat.admin.ban": self.ban, "chat.admin.unban": self.unban, "chat.admin.bans": self.bans}

    async def _admin(self, details):
        caller = await self._ctx.caller(details)
        if not caller.is_admin:
            fail(FORBIDDEN, "only an admin may do this")
        return caller

    async def ban(self, username=None, reason=None, duration=None, details=None) -> None:
        ctx = self._ctx
        caller = await self._admin(details)
        checks.check_username(username)
        if username == caller.user:
            fail(INVALID, "you cannot ban yourself")
        reason, duration = check_reason(reason), check_duration(duration)
        if await ctx.store.get_user(username) is None and not ctx.sessions.is_online(username) \
                and not username.startswith("guest_"):
            fail(NOT_FOUND, f"no user {username!r}")
        now = ctx.now()
        until = None if duration is None else now + duration * 1000
        await ctx.store.server_ban(username, ctx.guest_address(username), caller.user, reason, now, until,
                                   self._feed.node)
        self._feed.applied_here(SESSIONS, username, None, BANNED, None, now)
        return None

    async def unban(self, username=None, details=None) -> None:
        caller = await self._admin(details)
        checks.check_username(username)
        if not await self._ctx.store.server_unban(username, caller.user, self._ctx.now()):
            fail(NOT_FOUND, f"{username!r} is not banned")
        return None

    async def bans(self, details=None) -> list:
        await self._admin(details)
        return await self._ctx.store.server_bans(self._ctx.now())
