"""
``chat.room.set_role``, ``chat.room.update`` and ``chat.admin.audit``: room roles, room settings and the
audit log (API §8).

Roles and settings live in the database only (never in a node's room cache), so every node of a cluster
sees a change as soon as it committed; the send batch reads them under the room's lock to enforce read-only
rooms and slow mode. Each change is written with its audit entry in one transaction, and announced after
it committed.
"""
from wampchat.chat import checks
from wampchat.chat.authorization import is_moderator, readable_room
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import FORBIDDEN, INVALID, NOT_FOUND, fail

ASSIGNABLE_ROLES = ("moderator", "member")
TOPIC_MAX = 500
SLOW_MODE_MAX = 21600        # six hours
RETENTION_MAX = 36500        # a hundred years
AUDIT_DEFAULT, AUDIT_MAX = 50, 200


class Moderation:
    """chat.room.set_role, chat.room.update and chat.admin.audit."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.room.set_role": self.set_role, "chat.room.update": self.update,
                "chat.admin.audit": self.audit}

    async def room_of(self, caller: Caller, room_id) -> dict:
        """The room to act on: any room for a server admin (private ones they are not in too); for anyone else
        a room they may read, else not_found."""
        if caller.is_admin:
            room = await self._ctx.rooms.get(checks.check_room_id(room_id))
            if room is None:
                fail(NOT_FOUND, f"no room {room_id!r}")
            return room
        return await readable_room(self._ctx, caller, room_id)

    async def is_moderator(self, caller: Caller, room: dict) -> bool:
        return await is_moderator(self._ctx, caller, room)

    # -- chat.room.set_role -----------------------------------------------------------------
    async def set_role(self, room_id=None, username=None, role=None, details=None) -> None:
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await self.room_of(caller, room_id)
        checks.check_username(username)
        if role not in ASSIGNABLE_ROLES:
            fail(INVALID, f"role must be one of {', '.join(ASSIGNABLE_ROLES)}")
        if not (caller.is_admin or caller.user == room["owner"]):
            fail(FORBIDDEN, "only the room's owner or an admin may change roles")
        if username == room["owner"]:
            fail(FORBIDDEN, "the owner's role cannot be changed")
        nick = await ctx.store.display_name(username)
        if role == "moderator" and nick is None:
            fail(FORBIDDEN, "only registered users can be moderators")
        before = await ctx.store.set_role(room_id, username, role, caller.user, ctx.now())
        if before is None:
            fail(NOT_FOUND, f"{username!r} is not a member of {room_id!r}")
        if before != role:
            shown = nick or ctx.sessions.nick_of(username) or username
            await ctx.publish_room(room, "presence", {"user": username, "nick": shown, "event": "role",
                                                      "role": role, "by": caller.user})
        return None

    # -- chat.room.update -----------------------------------------------------------------
    async def update(self, room_id=None, title=None, topic=None, read_only=None, slow_mode=None,
                     retention_days=None, details=None) -> dict:
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await self.room_of(caller, room_id)
        changes = settings_given(room, title, topic, read_only, slow_mode, retention_days)
        if not await self.is_moderator(caller, room):
            fail(FORBIDDEN, "only the room's moderators, its owner or an admin may change the room")
        owner_only = {"read_only", "retention_days"} & set(changes)
        if owner_only and not (caller.is_admin or caller.user == room["owner"]):
            fail(FORBIDDEN, f"only the room's owner or an admin may change {', '.join(sorted(owner_only))}")
        updated, changed = await ctx.store.update_room(room_id, changes, caller.user, ctx.now())
        if updated is None:
            fail(NOT_FOUND, f"no room {room_id!r}")
        if changed:
            await ctx.publish_room(room, "update", updated)
        return updated

    # -- chat.admin.audit -----------------------------------------------------------------
    async def audit(self, room=None, before=None, limit=None, details=None) -> dict:
        """Admins read every entry; a room's owner and moderators read that room's (without ``room``: those of
        every room they own or moderate). Anyone else is refused."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        if before is not None:
            checks.check_cursor(before, "before")
        limit = checks.check_limit(limit, AUDIT_DEFAULT, AUDIT_MAX)
        rooms = await self.moderated_scope(caller, room, "audit log")
        entries, more = await ctx.store.audit_entries(rooms, before, limit)
        return {"entries": entries, "more": more}

    async def moderated_scope(self, caller: Caller, room_id, what: str) -> list | None:
        """The rooms whose ``what`` (audit log, reports) the caller reads (None: every room's). With ``room_id``:
        that room, for its moderator+; without: every room for an admin, else the rooms the caller owns or
        moderates. Anyone else is refused."""
        if room_id is not None:
            room = await self.room_of(caller, room_id)
            if not await self.is_moderator(caller, room):
                fail(FORBIDDEN, f"only the room's owner, its moderators or an admin may read its {what}")
            return [room_id]
        if caller.is_admin:
            return None
        rooms = await self._ctx.store.moderated_rooms(caller.user) if caller.role != "guest" else []
        if not rooms:
            fail(FORBIDDEN, f"only admins and the owners and moderators of a room may read the {what}")
        return rooms


def settings_given(room: dict, title, topic, read_only, slow_mode, retention_days) -> dict:
    """The settings a chat.room.update call names, checked: {field: value}."""
    changes = {}
    if title is not None:
        changes["title"] = checks.check_title(title, room["id"])
    if topic is not None:
        if not isinstance(topic, str) or len(topic) > TOPIC_MAX:
            fail(INVALID, f"topic must be a string of at most {TOPIC_MAX} characters")
        changes["topic"] = topic.strip()
    if read_only is not None:
        changes["read_only"] = checks.check_bool(read_only, "read_only")
    if slow_mode is not None:
        changes["slow_mode"] = whole_number(slow_mode, "slow_mode", SLOW_MODE_MAX)
    if retention_days is not None:
        changes["retention_days"] = whole_number(retention_days, "retention_days", RETENTION_MAX)
    return changes


def whole_number(value, name: str, most: int) -> int:
    """A whole number 0..``most`` (never a boolean)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
        fail(INVALID, f"{name} must be a whole number 0..{most}")
    return value
