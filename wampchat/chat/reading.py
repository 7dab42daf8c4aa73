"""``chat.typing`` and ``chat.read``: what a reader tells a room (that they are typing, how far they have read)."""
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.chat.authorization import readable_room, refuse_sanctioned
from wampchat.chat.checks import check_bool, check_message_id
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import NOT_FOUND, fail
from wampchat.chat.typing_timers import TypingTimers

TYPING_TIMEOUT = 6.0     # seconds a typing state lasts unless renewed


class Reading:
    """chat.typing and chat.read; ``typing`` holds the typing states (a send or a departure ends them too)."""

    log = Logger()

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx
        self.typing = TypingTimers(ctx.reactor, TYPING_TIMEOUT, self._typing_expired)

    def procedures(self) -> dict:
        return {"chat.typing": self.typing_set, "chat.read": self.read_set}

    async def typing_set(self, room_id=None, typing=None, details=None):
        caller = await self._ctx.caller(details)
        room = await readable_room(self._ctx, caller, room_id)
        check_bool(typing, "typing")
        if typing:
            await refuse_sanctioned(self._ctx, caller, room_id)
            self.typing.start(room_id, caller.user, caller.nick)
        elif not self.typing.stop(room_id, caller.user):
            return None
        await self._ctx.publish_room(room, "typing", {"user": caller.user, "nick": caller.nick, "typing": typing})
        return None

    def _typing_expired(self, room_id, user, nick):
        room = self._ctx.rooms.peek(room_id)
        if room is not None:
            payload = {"user": user, "nick": nick, "typing": False}
            defer.ensureDeferred(self._ctx.publish_room(room, "typing", payload)).addErrback(
                lambda f: self.log.warn("typing end in {room} not announced: {e}", room=room_id, e=f.value))

    async def read_set(self, room_id=None, message_id=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        check_message_id(message_id)
        if await ctx.store.get_message(room_id, message_id) is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        marker = await ctx.store.mark_read(room_id, caller.user, message_id)
        if marker == message_id:
            await ctx.publish_room(room, "read", {"user": caller.user, "message_id": message_id})
        return None
