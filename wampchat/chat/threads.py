"""``chat.message.thread``: a chain of replies, read from its first message (API §9).

A reply (``chat.message.send`` with ``reply_to``) belongs to the chain of the
message it answers; the chain's first message counts the replies and is
announced on ``chat.room.<id>.thread`` as each one comes. Anyone who may read
the room may read its threads.
"""
from wampchat.chat import checks
from wampchat.chat.authorization import readable_room
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import NOT_FOUND, fail

THREAD_DEFAULT, THREAD_MAX = 50, 200


class Threads:
    """chat.message.thread."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx

    def procedures(self) -> dict:
        return {"chat.message.thread": self.thread}

    async def thread(self, room_id=None, root_id=None, after=None, limit=None, details=None) -> dict:
        """``{root, messages, more}``: the chain's first message and its replies after ``after``, oldest first. Given
        a reply, its chain's first message is used."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        await readable_room(ctx, caller, room_id)
        checks.check_message_id(root_id, "root_id")
        if after is not None:
            checks.check_message_id(after, "after")
        limit = checks.check_limit(limit, THREAD_DEFAULT, THREAD_MAX)
        root = await ctx.store.get_message(room_id, root_id)
        if root is not None and "thread" in root:
            root = await ctx.store.get_message(room_id, root["thread"])
        if root is None:
            fail(NOT_FOUND, f"no message {root_id!r} in {room_id!r}")
        messages, more = await ctx.store.thread(room_id, root["id"], after, limit)
        return {"root": root, "messages": messages, "more": more}
