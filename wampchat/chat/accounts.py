"""``chat.user.*``: registering an account, and who the caller is."""
from twisted.internet.threads import deferToThreadPool

from wampchat.chat.checks import check_password, check_username
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, fail
from wampchat.names import NameRefused, name_skeleton
from wampchat.router.auth import validate_nick
from wampchat.router.credentials import make_credentials
from wampchat.storage import Conflict


def user_object(user: str, nick: str, role: str) -> dict:
    """A User as the API gives it."""
    return {"user": user, "nick": nick, "role": role}


class Accounts:
    """chat.user.register and chat.user.me."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.user.register": self.user_register, "chat.user.me": self.user_me}

    async def user_register(self, username=None, password=None, display_name=None, details=None):
        ctx, settings = self._ctx, self._ctx.settings
        if not settings.open_registration:
            fail(FORBIDDEN, "registration is closed on this server")
        check_username(username)
        if username.startswith("guest_"):
            fail(INVALID, "usernames starting with guest_ are reserved for guests")
        check_password(password)
        await ctx.counted("register", [ctx.address(details)], settings.register_rate,
                          f"at most {settings.register_rate} registrations per hour from one address")
        nick = username
        if display_name is not None:
            try:
                nick = validate_nick(display_name)
            except NameRefused as refused:
                fail(INVALID, f"invalid display_name: {refused}")
        if self._reserved(username) or await ctx.store.get_user(username) is not None:
            fail(CONFLICT, f"the username {username!r} is taken")
        if nick != username and self._reserved(nick):
            fail(CONFLICT, f"{nick!r} is taken or looks like a name in use; choose another")
        for name in dict.fromkeys((username, nick)):  # neither may look like a user's name or an online nick
            if ctx.sessions.nick_taken(name, details.caller_authid) or await ctx.store.name_in_use(
                    name_skeleton(name), details.caller_authid or ""):
                fail(CONFLICT, f"{name!r} is taken or looks like a name in use; choose another")
        creds = await deferToThreadPool(ctx.reactor, ctx.reactor.getThreadPool(),
                                        make_credentials, username, password, "user")
        try:
            await ctx.store.add_user(creds, nick, ctx.now())
        except Conflict:
            fail(CONFLICT, f"the username {username!r} is taken")
        return user_object(username, nick, "user")

    def _reserved(self, name: str) -> bool:
        """Is ``name`` (or a name that looks like it) one of the settings' reserved names?"""
        key = name_skeleton(name)
        return any(name_skeleton(reserved) == key for reserved in self._ctx.settings.reserved_names)

    async def user_me(self, details=None):
        caller = await self._ctx.caller(details)
        return user_object(caller.user, caller.nick, caller.role)
