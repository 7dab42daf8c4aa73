"""
Who may do what in the chat, in one place.

- Reading: a public room is open to everyone signed in; a private room
  (and a DM) to its members. A room the caller may not read does not exist
  for them (``not_found``).
- The router asks :meth:`ChatAuthorizer.authorize` for every ``chat.*`` URI:
  only the trusted chat service registers and publishes there; anyone may
  call (each procedure checks its own arguments and rights); subscriptions
  reach only rooms the subscriber may read and the subscriber's own
  ``chat.user.<name>.*`` topics.
- A login passes :meth:`ChatAuthorizer.check_join`: a guest's nick must not
  pass for a name in use; an account arrives with its display name.
- Who may create rooms, invite, edit and delete: the ``may_*`` rules below.
"""
from datetime import datetime, timezone

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.chat.checks import check_room_id
from wampchat.chat.context import Caller, ChatContext, transport_address
from wampchat.chat.errors import CONFLICT, FORBIDDEN, NOT_FOUND, UNAVAILABLE, fail
from wampchat.chat.session_ends import BANNED
from wampchat.names import name_skeleton
from wampchat.router.authorize import TRUSTED
from wampchat.router.outage import OutageNotice
from wampchat.storage import StoreUnavailable
from wampchat.storage.chat.server_bans import guest_logins

ACCOUNT_ROLES = ("user", "admin", "service")

log = Logger()


async def may_read(ctx: ChatContext, user: str, room_id: str) -> bool:
    """Public rooms are open to everyone signed in; private rooms (and DMs) to their members."""
    room = await ctx.rooms.get(room_id)
    if room is None:
        return False
    return not room["private"] or await ctx.store.is_member(room_id, user)


async def readable_room(ctx: ChatContext, caller: Caller, room_id) -> dict:
    """The room, or not_found when it does not exist or the caller may not see it."""
    check_room_id(room_id)
    room = await ctx.rooms.get(room_id)
    if room is None:
        fail(NOT_FOUND, f"no room {room_id!r}")
    if room["private"] and not await ctx.store.is_member(room_id, caller.user):
        if await ctx.store.sanction(room_id, caller.user, None, ctx.now()) == "ban":
            fail(FORBIDDEN, f"you are banned from {room_id!r}")
        fail(NOT_FOUND, f"no room {room_id!r}")
    return room


MODERATOR_ROLES = ("owner", "moderator")
ROLE_RANK = {"member": 0, "moderator": 1, "owner": 2}


async def room_role(ctx: ChatContext, user: str, room: dict) -> str | None:
    """``user``'s role in the room (a room's creator is its owner even after leaving it), None for a non-member."""
    if user == room["owner"]:
        return "owner"
    return await ctx.store.member_role(room["id"], user)


async def is_moderator(ctx: ChatContext, caller: Caller, room: dict) -> bool:
    """Moderator+: the room's moderators, its owner and server admins (never a guest)."""
    if caller.is_admin:
        return True
    return caller.role != "guest" and await room_role(ctx, caller.user, room) in MODERATOR_ROLES


async def refuse_sanctioned(ctx: ChatContext, caller: Caller, room_id: str, muted_too: bool = True) -> None:
    """Refuse (forbidden) a caller banned from the room or (``muted_too``) muted there: they may not join, react
    or type (a guest is also held back by a ban on its client address). Server admins are never held back."""
    if caller.is_admin:
        return
    address = ctx.address_of(caller.session, caller.user) if caller.role == "guest" else None
    held = await ctx.store.sanction(room_id, caller.user, address, ctx.now())
    if held == "ban":
        fail(FORBIDDEN, f"you are banned from {room_id!r}")
    if held == "mute" and muted_too:
        fail(FORBIDDEN, f"you are muted in {room_id!r}")


def may_create_rooms(caller: Caller) -> bool:
    """Rooms are made by accounts; guests may join public rooms."""
    return caller.role in ACCOUNT_ROLES


def may_invite(caller: Caller, room: dict) -> bool:
    return room["owner"] == caller.user or caller.is_admin


def may_edit(caller: Caller, message: dict) -> bool:
    return message["user"] == caller.user


async def may_delete(ctx: ChatContext, caller: Caller, room: dict, message: dict) -> bool:
    """The author, and the room's moderator+ (whose deletions of others' messages are audited)."""
    return caller.user == message["user"] or await is_moderator(ctx, caller, room)


class ChatAuthorizer:
    """The chat's part in the router: the authorization rule for ``chat.*`` URIs and the join hook."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx
        self.database_outage = OutageNotice(ctx.reactor, "the chat database (logins)")
        # guests' join checks arriving together share a transaction (a reconnect storm is mostly guests)
        self._guest_logins = ctx.store.database.group_commit(guest_logins)

    # -- the router's rule, asked for every chat.* URI ----------------------------------------
    def authorize(self, request):
        uri = request.uri
        if not uri.startswith("chat."):
            return None
        session = request.session
        if request.action in ("publish", "register"):
            return session.authrole == TRUSTED
        if request.action == "call":
            return True  # each procedure checks its own arguments and rights
        parts = uri.split(".")
        if request.match != "exact":
            if session.authrole == "admin":
                return True
            # a prefix on one readable room ("chat.room.lobby.") reaches nothing it may not read
            if request.match == "prefix" and len(parts) >= 4 and parts[1] == "room" and parts[2] != "":
                return self._may_read_now(session.authid, parts[2])
            return False
        if uri == "chat.rooms":
            return True
        if len(parts) == 4 and parts[1] == "room":
            return self._may_read_now(session.authid, parts[2])
        if len(parts) == 4 and parts[1] == "user":
            return parts[2] == session.authid
        return False

    def _may_read_now(self, user, room_id):
        """True at once for a known public room; otherwise a Deferred asking the store."""
        room = self._ctx.rooms.peek(room_id)
        if room is not None and not room["private"]:
            return True
        return defer.ensureDeferred(may_read(self._ctx, user, room_id)).addErrback(self._authorization_failed)

    def _authorization_failed(self, failure):
        failure.trap(StoreUnavailable)
        log.warn("authorization refused, the database is unavailable: {e}", e=failure.value)
        return False

    # -- the join hook ----------------------------------------------------------------------------
    def check_join(self, info):
        """Join hook: a guest's nick must be unique among online users and not a registered name;
        an account shows its display name (looked up now, so the session arrives with it). While the
        database is away the join is refused as ``unavailable`` (one warning per outage, not per login).
        Callbacks rather than a coroutine: every join of a reconnect storm passes here."""
        if info.authrole == TRUSTED or info.authmethod == "internal":
            return None
        ctx = self._ctx
        if info.authrole != "guest":
            d = ctx.store.account_login(info.authid, ctx.now())
            d.addCallback(self._account_checked, info)
        else:
            nick = info.authextra.get("nick") or info.authid
            address = transport_address(info.transport, info.authid)
            d = self._guest_login(info.authid, address, name_skeleton(nick), ctx.now())
            d.addCallback(self._guest_checked, info, nick)
        return d.addCallbacks(self._store_answered, self._store_failed)

    def _account_checked(self, answer, info):
        ban, display_name = answer
        if ban is not None:
            raise ApplicationError(BANNED, ban_text(ban))
        self._ctx.sessions.expect_nick(info.id, display_name or info.authid)

    def _guest_checked(self, answer, info, nick):
        ban, in_use, id_held = answer
        if ban is not None:
            raise ApplicationError(BANNED, ban_text(ban))
        if id_held or self._ctx.sessions.is_online(info.authid):
            # a guest id is 32 random bits (API: guest_<8 hex>): two guests drawing the same one would share
            # rooms, invitations and direct messages, so the second is refused and draws anew on reconnecting
            raise ApplicationError(CONFLICT, "this guest id was just drawn for another guest online; connect again")
        if in_use or self._ctx.sessions.nick_taken(nick, info.authid):
            raise ApplicationError(CONFLICT, f"the nick {nick!r} is taken or looks like a name in use; choose another")

    def _store_answered(self, _):
        self.database_outage.recovered()

    def _store_failed(self, failure):
        """The database is away: refuse as ``unavailable``; a refusal of the login itself passes on."""
        failure.trap(StoreUnavailable)
        self.database_outage.refused(failure.value)
        raise ApplicationError(UNAVAILABLE, "the chat database is unavailable; try again shortly")

    def _guest_login(self, user, address, nick_key, now):
        """Deferred of (the ban refusing this guest or None, whether its nick is a name in use, whether its
        id is held by a guest online), asked together with the other guests' checks waiting for the database
        thread (:func:`wampchat.storage.chat.server_bans.guest_login`)."""
        return self._guest_logins.submit((user, address, nick_key, now))


def ban_text(ban: dict) -> str:
    """Why a login is refused: the ban's reason and how long it holds (UTC)."""
    until = ban["until"]
    when = "until unbanned" if until is None else \
        "until " + datetime.fromtimestamp(until / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"you are banned from this server {when}" + (f": {ban['reason']}" if ban["reason"] else "")
