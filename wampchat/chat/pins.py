"""``chat.message.pin`` and ``chat.room.pins``: the messages a room keeps in view (API §9).

In a room, moderator+ pin (what a room shows everyone is a moderator's
call); in a DM or group DM, any member. Anyone who may read the room sees
its pins. A pin change is announced on ``chat.room.<id>.pin`` after it
committed; a deleted message is unpinned with it.
"""
from wampchat.chat import checks
from wampchat.chat.authorization import is_moderator, readable_room
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, NOT_FOUND, fail
from wampchat.storage.chat.pins import TooManyPins


class Pins:
    """chat.message.pin and chat.room.pins."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.message.pin": self.pin, "chat.room.pins": self.pins}

    async def pin(self, room_id=None, message_id=None, on=True, details=None) -> dict:
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        checks.check_message_id(message_id)
        checks.check_bool(on, "on")
        current = await ctx.store.get_room(room_id) or room
        if current.get("dm"):
            if not await ctx.store.is_member(room_id, caller.user):
                fail(FORBIDDEN, "only the members of a DM may pin in it")
        elif not await is_moderator(ctx, caller, room):
            fail(FORBIDDEN, "only the room's moderators, its owner or an admin may pin")
        try:
            result = await ctx.store.pin(room_id, message_id, caller.user, on, ctx.now())
        except TooManyPins as e:
            fail(CONFLICT, str(e))
        if result is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        pinned, changed = result
        if changed:
            await ctx.publish_room(room, "pin", {"room": room_id, "id": message_id, "on": on, "by": caller.user})
        return dict(current, pinned=pinned)

    async def pins(self, room_id=None, details=None) -> list:
        caller = await self._ctx.caller(details)
        await readable_room(self._ctx, caller, room_id)
        return await self._ctx.store.pinned_messages(room_id)
