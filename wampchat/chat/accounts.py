"""``chat.user.*``: registering an account, who the caller is, and what an account's owner may do with it
(display name, password, export, deletion)."""
from twisted.internet.threads import deferToThreadPool

from wampchat.chat import checks
from wampchat.chat.checks import check_password, check_username
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, fail
from wampchat.chat.session_ends import ACCOUNT_DELETED, PASSWORD_CHANGED, end_sessions, reason_text
from wampchat.names import NameRefused, name_skeleton
from wampchat.router.auth import validate_nick
from wampchat.router.credentials import make_credentials, verify_password
from wampchat.storage import Conflict
from wampchat.storage.chat.accounts import DELETED_NICK

PASSWORD_TRIES = 5          # password checks (change_password, delete) one account may make per window
PASSWORD_WINDOW = 900.0     # seconds
EXPORT_DEFAULT, EXPORT_MAX = 100, 200   # messages per chat.user.export page


def user_object(user: str, nick: str, role: str) -> dict:
    """A User as the API gives it."""
    return {"user": user, "nick": nick, "role": role}


class Accounts:
    """chat.user.register and chat.user.me."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.user.register": self.user_register, "chat.user.me": self.user_me,
                "chat.user.update": self.user_update, "chat.user.change_password": self.change_password,
                "chat.user.export": self.user_export, "chat.user.delete": self.user_delete}

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

    # -- self-service ------------------------------------------------------------------------
    async def _account(self, details) -> tuple:
        """(Caller, users row) of a caller with a live account; forbidden for guests and other callers."""
        caller = await self._ctx.caller(details)
        row = None if caller.role == "guest" else await self._ctx.store.get_user(caller.user)
        if row is None or row.get("deleted"):
            fail(FORBIDDEN, "only a registered account can do this; guests choose their nick when they log in")
        return caller, row

    async def user_update(self, display_name=None, details=None):
        """A new display name, under the rules of registration; the caller's sessions here show it at once."""
        ctx = self._ctx
        caller, row = await self._account(details)
        try:
            nick = validate_nick(display_name)
        except NameRefused as refused:
            fail(INVALID, f"invalid display_name: {refused}")
        if name_skeleton(nick) != name_skeleton(caller.user) and self._reserved(nick):
            fail(CONFLICT, f"{nick!r} is taken or looks like a name in use; choose another")
        if ctx.sessions.nick_taken(nick, caller.user) or await ctx.store.name_used_by_others(
                name_skeleton(nick), caller.user):
            fail(CONFLICT, f"{nick!r} is taken or looks like a name in use; choose another")
        await ctx.store.set_display_name(caller.user, nick)
        ctx.sessions.rename(caller.user, nick)
        return user_object(caller.user, nick, row["role"])

    async def _check_password(self, caller: Caller, row: dict, password: str) -> None:
        """Refuse (forbidden) a wrong password; at most PASSWORD_TRIES checks per account per window, counted
        before any hashing, so the account's password cannot be guessed fast from a session."""
        ctx = self._ctx
        await ctx.counted("password", [caller.user], PASSWORD_TRIES,
                          f"at most {PASSWORD_TRIES} password checks per {int(PASSWORD_WINDOW // 60)} minutes",
                          window=PASSWORD_WINDOW)
        if not await self._in_thread(verify_password, password, row["password_hash"]):
            fail(FORBIDDEN, "the password is wrong")

    def _in_thread(self, fn, *args):
        reactor = self._ctx.reactor
        return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

    async def change_password(self, old_password=None, new_password=None, details=None):
        """New credentials (ticket hash and WAMP-CRA secret); the caller's other sessions end, here at once."""
        if not isinstance(old_password, str) or len(old_password) > checks.PASSWORD_MAX:
            fail(INVALID, f"old_password must be a string of at most {checks.PASSWORD_MAX} characters")
        check_password(new_password)
        ctx = self._ctx
        caller, row = await self._account(details)
        await self._check_password(caller, row, old_password)
        creds = await self._in_thread(make_credentials, caller.user, new_password, row["role"])
        if not await ctx.store.set_credentials(creds):
            fail(FORBIDDEN, "only a registered account can do this")
        await ctx.revocations.end_sessions(caller.user, PASSWORD_CHANGED, keep_session=details.caller)
        return None

    async def user_export(self, before=None, limit=None, details=None):
        """One page of everything the caller wrote (newest first), the rooms they are in, and who they are."""
        if before is not None:
            checks.check_message_id(before, "before")
        limit = checks.check_limit(limit, EXPORT_DEFAULT, EXPORT_MAX)
        caller, row = await self._account(details)
        page = await self._ctx.store.export_page(caller.user, before, limit, checks.ROOMS_MAX)
        nick = row.get("display_name") or caller.user
        return dict(page, user=user_object(caller.user, nick, row["role"]))

    async def user_delete(self, password=None, details=None):
        """Delete the caller's account for good (see docs/API.md); every session of it ends."""
        if not isinstance(password, str) or len(password) > checks.PASSWORD_MAX:
            fail(INVALID, f"password must be a string of at most {checks.PASSWORD_MAX} characters")
        ctx = self._ctx
        caller, row = await self._account(details)
        await self._check_password(caller, row, password)
        rooms = await ctx.store.delete_account(caller.user, ctx.now())
        if rooms is None:
            fail(FORBIDDEN, "only a registered account can do this")
        await ctx.revocations.end_sessions(caller.user, ACCOUNT_DELETED, keep_session=details.caller)
        for room_id, audience in rooms:
            ctx.publish(room_id, "presence", {"user": caller.user, "nick": DELETED_NICK, "event": "leave"}, audience)
        # the caller's own session ends right after its answer is on its way
        ctx.reactor.callLater(0, end_sessions, ctx.realm, ctx.reactor, caller.user, ACCOUNT_DELETED,
                              reason_text(ACCOUNT_DELETED))
        return None
