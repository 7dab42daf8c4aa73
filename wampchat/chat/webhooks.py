"""
Incoming webhooks (API §11): ``chat.room.webhook_create``, ``chat.room.webhooks``, ``chat.room.webhook_delete``,
and what a POST to a webhook's secret URL does.

A webhook posts ``{"text": ...}`` (as Slack's incoming webhooks take it) in its
room as the bot ``hook_<id>`` showing the webhook's name, through
chat.message.send's own path (:meth:`~wampchat.chat.messages.Messages.send_as`):
stored, announced and rate-limited like any user's message. The bot is made a
member of the room when the webhook is made, so it may post in a private one.
Only the room's owner (or an admin) makes, lists and deletes its webhooks;
the URL's secret is shown once and stored as a SHA-256.
"""
import hashlib
import json
import secrets

from autobahn.wamp.exception import ApplicationError

from wampchat.chat.authorization import readable_room, room_role
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.names import NameRefused
from wampchat.router.auth import validate_nick
from wampchat.router.http_bridge import status_of
from wampchat.storage.chat.webhooks import TooManyWebhooks

HOOK_PATH = "/hooks/"
MAX_BODY = 16 * 1024


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Webhooks:
    """A room's incoming webhooks, and the messages posted through them."""

    def __init__(self, ctx: ChatContext, messages) -> None:
        self._ctx = ctx
        self._messages = messages

    def procedures(self) -> dict:
        return {"chat.room.webhook_create": self.create, "chat.room.webhooks": self.list,
                "chat.room.webhook_delete": self.delete}

    async def _owned_room(self, room_id, details) -> tuple:
        """(Caller, room) when the caller owns the room or is an admin; forbidden otherwise."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        room = await readable_room(ctx, caller, room_id)
        if room.get("dm"):
            fail(FORBIDDEN, "a DM has no webhooks")
        if not caller.is_admin and (caller.role == "guest" or await room_role(ctx, caller.user, room) != "owner"):
            fail(FORBIDDEN, "only the room's owner or an admin manages its webhooks")
        return caller, room

    async def create(self, room_id=None, name=None, details=None) -> dict:
        caller, room = await self._owned_room(room_id, details)
        try:
            name = validate_nick(name)
        except NameRefused as refused:
            fail(INVALID, f"invalid name: {refused}")
        hook_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        try:
            await self._ctx.store.add_webhook(hook_id, room["id"], name, _digest(secret), caller.user,
                                              self._ctx.now())
        except TooManyWebhooks as e:
            fail(CONFLICT, str(e))
        return {"id": hook_id, "name": name, "user": f"hook_{hook_id}", "url": f"{HOOK_PATH}{hook_id}/{secret}"}

    async def list(self, room_id=None, details=None) -> list:
        _, room = await self._owned_room(room_id, details)
        return await self._ctx.store.webhooks_of(room["id"])

    async def delete(self, room_id=None, webhook_id=None, details=None) -> dict:
        _, room = await self._owned_room(room_id, details)
        if not isinstance(webhook_id, str) or not await self._ctx.store.delete_webhook(room["id"], webhook_id):
            fail(NOT_FOUND, "this room has no webhook with this id")
        return {"id": webhook_id, "deleted": True}

    # -- POST /hooks/<id>/<secret> ------------------------------------------------------------
    async def receive(self, hook_id: str, secret: str, data: bytes) -> tuple:
        """(HTTP status, JSON body) of a POST to a webhook's URL: the Message posted, or why not."""
        hook = await self._ctx.store.use_webhook(hook_id, _digest(secret))
        if hook is None:
            return 404, {"error": NOT_FOUND, "args": ["no such webhook"]}
        try:
            body = json.loads(data.decode("utf-8")) if len(data) <= MAX_BODY else None
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return 400, {"error": INVALID, "args": [f'the body must be JSON {{"text": "..."}} of at most {MAX_BODY} '
                                                    "bytes"]}
        bot = Caller(None, f"hook_{hook_id}", "user", hook["name"])
        try:
            message = await self._messages.send_as(bot, hook["room"], body["text"])
        except ApplicationError as e:
            return status_of(e.error), {"error": e.error, "args": list(e.args), "kwargs": e.kwargs or {}}
        return 200, message
