"""
``chat.message.*``: sending, history, editing, deleting, searching and reacting.

A send is the hot path: in the common case (a caller with a session here,
writing to a public room already known) :meth:`Messages.message_send` is a
plain function that hands the message to the group commit and returns its
Deferred, with no coroutine in between. Events are published only after the
change they announce is committed.
"""
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.chat import checks
from wampchat.chat.authorization import may_delete, may_edit, readable_room, refuse_sanctioned
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.files import check_file_ids
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, RATE_LIMITED, fail, rate_limited
from wampchat.chat.limits import RateWindow
from wampchat.chat.link_previews import LinkPreviews, keeps_preview
from wampchat.chat.search import parse_query
from wampchat.chat.typing_timers import TypingTimers
from wampchat.storage.chat.reactions import ReactionRefused
from wampchat.storage.chat.moderation import BANNED, MUTED, READ_ONLY, SLOW
from wampchat.storage.chat.sends import (FILES_REFUSED, REPLY_REFUSED, TOO_MANY, NumberBlock, SendRate, SendRequest,
                                         add_messages)

SEND_WINDOW_MS = 10_000
REACT_RATE = 60            # reactions (on or off) one user may give per 10 s on a node


class Messages:
    """chat.message.send, history, edit, delete, search and react."""

    log = Logger()

    def __init__(self, ctx: ChatContext, typing: TypingTimers) -> None:
        self._ctx = ctx
        self._typing = typing   # a send ends its author's typing in that room
        settings, reactor, window = ctx.settings, ctx.reactor, SEND_WINDOW_MS / 1000
        # every limit is kept per user or per address, never per session: reconnecting resets nothing
        self.send_limit = RateWindow(reactor, settings.send_rate, window)
        self.react_limit = RateWindow(reactor, REACT_RATE, window)
        # guests are new users at every login, so what they send is also counted per client address
        self.guest_send_limit = RateWindow(reactor, settings.guest_send_rate, window)
        self.guest_react_limit = RateWindow(reactor, REACT_RATE, window)
        # one node counts a user's sends itself; nodes sharing a database count them there
        rate = SendRate(settings.send_rate, SEND_WINDOW_MS) if ctx.store.engine.shared else None
        numbers = NumberBlock()   # SQLite reserves message numbers ahead; a failed batch drops the reservation
        self.sends = ctx.store.database.group_commit(add_messages, rate, numbers, on_failure=numbers.forget,
                                                     on_batch=self._count_batch(ctx.realm.metrics))
        self.previews = LinkPreviews(ctx) if ctx.settings.link_previews else None   # --link-previews
        self.send_duration = ctx.realm.metrics.histogram(  # /metrics; observed in _sent
            "wampchat_chat_send_duration_seconds", "chat.message.send calls, from invocation to a successful result")

    @staticmethod
    def _count_batch(metrics):
        """/metrics: batches against items shows how many sends one commit (one fsync) serves."""
        batches = metrics.counter("wampchat_chat_send_batches_total",
                                  "group commits of chat.message.send (one transaction each)")
        items = metrics.counter("wampchat_chat_send_items_total",
                                "chat.message.send requests taken into those group commits")

        def counted(size):
            batches.value += 1
            items.value += size
        return counted

    def procedures(self) -> dict:
        return {"chat.message.send": self.message_send, "chat.message.history": self.message_history,
                "chat.message.edit": self.message_edit, "chat.message.delete": self.message_delete,
                "chat.message.search": self.message_search, "chat.message.react": self.message_react}

    # -- chat.message.send ----------------------------------------------------------------
    def message_send(self, room_id=None, text=None, client_msg_id=None, files=None, reply_to=None, details=None):
        """A plain function, not a coroutine: the common case (a caller with a session here, writing to a public
        room already known) reaches the group commit and its answer with no coroutine in between."""
        started = self._ctx.reactor.seconds()
        checks.check_room_id(room_id)
        caller = self._ctx.caller_here(details)
        room = self._ctx.rooms.peek(room_id) if caller is not None else None
        if room is None or room["private"]:
            return defer.Deferred.fromCoroutine(self._message_send_looked_up(room_id, text, client_msg_id, files,
                                                                              reply_to, details, started))
        return self._submit_send(caller, room, text, client_msg_id, files, reply_to, started)

    async def _message_send_looked_up(self, room_id, text, client_msg_id, files, reply_to, details, started):
        """message_send once the store has told who is calling and whether they may read the room."""
        caller = await self._ctx.caller(details)
        room = await readable_room(self._ctx, caller, room_id)
        return await self._submit_send(caller, room, text, client_msg_id, files, reply_to, started)

    async def send_as(self, caller: Caller, room_id: str, text) -> dict:
        """A send by a caller the chat service vouches for itself (an incoming webhook's bot): the checks,
        limits, store and events of chat.message.send."""
        room = await readable_room(self._ctx, caller, room_id)
        return await self._submit_send(caller, room, text, None, None, None, self._ctx.reactor.seconds())

    def _submit_send(self, caller, room, text, client_msg_id, files, reply_to, started):
        files = check_file_ids(files) if files is not None else ()
        # with files the text may be empty (a picture says it all)
        text = "" if files and (text is None or (isinstance(text, str) and not text.strip())) \
            else checks.check_text(text)
        checks.check_client_msg_id(client_msg_id)
        if reply_to is not None:
            checks.check_message_id(reply_to, "reply_to")
        address = self._count(caller, self.send_limit, self.guest_send_limit, "messages")
        request = SendRequest(room["id"], caller.user, caller.nick, text, self._ctx.now(), client_msg_id,
                              caller.is_admin, address, files, reply_to)
        return self.sends.submit(request).addCallback(self._sent, caller, room, started)

    def _count(self, caller, per_user, per_guest_address, what):
        """Count one send or reaction in the caller's window and, for a guest (a new user at every login), in
        its address's too; refuse with rate_limited past either. The guest's address (None for an account)."""
        if not per_user.allow(caller.user):
            rate_limited(f"at most {per_user.count} {what} per {per_user.window:g} seconds",
                         per_user.retry_after(caller.user))
        if caller.role != "guest":
            return None
        address = self._ctx.address_of(caller.session, caller.user)
        if not per_guest_address.allow(address):
            rate_limited(f"guests at one address may send at most {per_guest_address.count} {what} per "
                         f"{per_guest_address.window:g} seconds", per_guest_address.retry_after(address))
        return address

    def _sent(self, outcome, caller, room, started):
        """The batch holding this send committed: publish what it changed, answer the caller."""
        ctx, room_id = self._ctx, room["id"]
        if outcome.refused:
            self._refuse(outcome, room_id)
        if outcome.created:
            # no await between the commit and the event: a node's events leave in id order
            if outcome.joined:
                ctx.publish(room_id, "presence", {"user": caller.user, "nick": caller.nick, "event": "join"},
                            outcome.audience)
            if self._typing.stop(room_id, caller.user):
                ctx.publish(room_id, "typing", {"user": caller.user, "nick": caller.nick, "typing": False},
                            outcome.audience)
            ctx.publish(room_id, "message", outcome.message, outcome.audience)
            if self.previews is not None:
                self.previews.message_sent(room, outcome.message)
            if outcome.thread is not None:
                ctx.publish(room_id, "thread", outcome.thread, outcome.audience)
            for user in outcome.message.get("mentions", ()):
                if user != caller.user and user not in outcome.silenced:   # level "none": told nothing
                    ctx.notify(user, {"event": "mention", "room": outcome.room, "message": outcome.message})
        self.send_duration.observe(ctx.reactor.seconds() - started)
        return outcome.message

    def _refuse(self, outcome, room_id):
        """Raise the error a send the batch refused gets."""
        if outcome.refused == TOO_MANY:
            fail(RATE_LIMITED, f"at most {self._ctx.settings.send_rate} messages per 10 seconds (on all nodes)")
        if outcome.refused == BANNED:
            fail(FORBIDDEN, f"you are banned from {room_id!r}")
        if outcome.refused == MUTED:
            fail(FORBIDDEN, f"you are muted in {room_id!r}")
        if outcome.refused == READ_ONLY:
            fail(FORBIDDEN, f"{room_id!r} is read-only: only its moderators may send")
        if outcome.refused == REPLY_REFUSED:
            fail(NOT_FOUND, f"reply_to: no such message in {room_id!r}")
        if outcome.refused == FILES_REFUSED:
            fail(NOT_FOUND, "files must be your own uploads to this room, uploaded and not sent yet")
        if outcome.refused == SLOW:
            rate_limited(f"{room_id!r} is in slow mode: one message per {outcome.room['slow_mode']} seconds",
                         outcome.retry_after_ms / 1000)
        fail(NOT_FOUND, f"no room {room_id!r}")

    # -- reading back ---------------------------------------------------------------------
    async def message_history(self, room_id=None, before=None, after=None, limit=None, changed_after=None,
                              details=None):
        """A page of history by id (``before``/``after``), or with ``changed_after`` the messages edited,
        deleted or reacted to since that change cursor (what a client missed about messages it has)."""
        caller = await self._ctx.caller(details)
        await readable_room(self._ctx, caller, room_id)
        if before is not None:
            checks.check_message_id(before, "before")
        if after is not None:
            checks.check_message_id(after, "after")
        limit = checks.check_limit(limit)
        if changed_after is not None:
            checks.check_cursor(changed_after, "changed_after")
            if before is not None or after is not None:
                fail(INVALID, "changed_after goes alone: it pages by change, not by message id")
            return await self._ctx.store.changes(room_id, changed_after, limit)
        return await self._ctx.store.history(room_id, before=before, after=after, limit=limit)

    async def message_search(self, query=None, room=None, before=None, limit=None, details=None):
        """Full-text search over every room the caller may read (or one of them), newest first."""
        caller = await self._ctx.caller(details)
        parsed = parse_query(query)
        if room is not None:
            await readable_room(self._ctx, caller, room)
        if before is not None:
            checks.check_message_id(before, "before")
        limit = checks.check_limit(limit, checks.SEARCH_DEFAULT, checks.SEARCH_MAX)
        return await self._ctx.store.search(caller.user, parsed, room, before, limit)

    # -- changing a message -------------------------------------------------------------------
    async def message_react(self, room_id=None, message_id=None, emoji=None, on=True, details=None):
        """Add (or with ``on=false`` take back) the caller's reaction; the Message with every reaction.

        Anyone who may read the room may react. Unlike sending, reacting
        does not make the caller a member of a public room: a reaction is
        a glance, not joining the conversation.
        """
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        checks.check_message_id(message_id)
        checks.check_emoji(emoji)
        checks.check_bool(on, "on")
        self._count(caller, self.react_limit, self.guest_react_limit, "reactions")
        await refuse_sanctioned(ctx, caller, room_id)
        try:
            result = await ctx.store.react(room_id, message_id, caller.user, emoji, on, ctx.now())
        except ReactionRefused as e:
            fail(CONFLICT, str(e))
        if result is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        message, changed = result
        if changed:
            await ctx.publish_room(room, "reaction", {"id": message_id, "room": room_id, "emoji": emoji,
                                                      "user": caller.user, "on": on})
        return message

    async def _live_message(self, caller, room_id, message_id):
        """The room and the message (not deleted), or not_found."""
        room = await readable_room(self._ctx, caller, room_id)
        checks.check_message_id(message_id)
        message = await self._ctx.store.get_message(room_id, message_id)
        if message is None or message.get("deleted"):
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        return room, message

    async def message_edit(self, room_id=None, message_id=None, text=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        text = checks.check_text(text)
        room, message = await self._live_message(caller, room_id, message_id)
        if not may_edit(caller, message):
            fail(FORBIDDEN, "only the author may edit a message")
        await refuse_sanctioned(ctx, caller, room_id)   # rewriting is speaking: not while banned or muted
        keep = keeps_preview(message, text)
        edited = await ctx.store.edit_message(room_id, message_id, text, ctx.now(), keep)
        await ctx.publish_room(room, "edit", edited)
        if self.previews is not None and not keep:
            self.previews.message_sent(room, edited)
        return edited

    async def message_delete(self, room_id=None, message_id=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        room, message = await self._live_message(caller, room_id, message_id)
        if not await may_delete(ctx, caller, room, message):
            fail(FORBIDDEN, "only the author, the room's moderators, its owner or an admin may delete a message")
        by_other = caller.user if caller.user != message["user"] else None
        await ctx.store.delete_message(room_id, message_id, by_other, ctx.now())
        await ctx.publish_room(room, "delete", {"id": message_id, "room": room_id})
        return None
