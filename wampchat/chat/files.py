"""
``chat.file.*`` (API §9): uploads, signed download URLs, and what the web port asks of files.

- ``chat.file.upload``: accounts only (guests are passers-by: they may
  send text, not leave files on the server); the caller must be able to
  read the room and not be banned or muted there. It reserves the declared
  size against the caller's quota (``--upload-quota`` bytes per 24 hours,
  every node counting in the database; past it ``rate_limited``) and
  answers a one-use upload path, good for 10 minutes.
- The bytes come over HTTP (:mod:`wampchat.web.files` calls
  :meth:`Files.receive_upload`): exactly the declared size, sniffed and
  (images) cleaned off the reactor thread (:mod:`~wampchat.chat.file_bytes`).
- ``chat.file.url``: signed URLs (:mod:`~wampchat.chat.file_urls`) for
  whoever may read the room the file was sent to; a file not sent yet only
  for its uploader; ``not_found`` for anyone else.
- Uploads never sent are removed after 24 hours (every node checks every
  hour; the delete is the same whoever runs it).
"""
import re
import secrets
from typing import Optional

from twisted.internet import defer, task, threads
from twisted.logger import Logger

from wampchat.chat.authorization import may_read, readable_room, refuse_sanctioned, ACCOUNT_ROLES
from wampchat.chat.context import ChatContext
from wampchat.chat.errors import FORBIDDEN, INVALID, NOT_FOUND, RATE_LIMITED, fail
from wampchat.chat.file_bytes import sniff
from wampchat.chat.file_urls import KEY_NAME, UrlSigner, expiry, new_key, token_hash
from wampchat.storage import StoreError

UPLOAD_WINDOW_MS = 10 * 60 * 1000        # an upload URL is good for 10 minutes
QUOTA_WINDOW_MS = 24 * 3600 * 1000       # the quota counts the bytes of the last 24 hours
UNSENT_KEPT_MS = 24 * 3600 * 1000        # uploads never sent are removed after a day
CLEANUP_INTERVAL = 3600.0
NAME_MAX = 255
FILES_PER_MESSAGE = 10
FILE_ID = re.compile(r"^[0-9a-f]{32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

log = Logger()


def check_file_id(value, name="file_id") -> str:
    if not isinstance(value, str) or not FILE_ID.match(value):
        fail(INVALID, f"{name} must be a file id (32 hex digits)")
    return value


def check_file_ids(value) -> tuple:
    """``files`` of chat.message.send: a list of up to 10 distinct file ids."""
    if not isinstance(value, (list, tuple)) or len(value) > FILES_PER_MESSAGE:
        fail(INVALID, f"files must be a list of at most {FILES_PER_MESSAGE} file ids")
    ids = tuple(check_file_id(v, "files") for v in value)
    if len(set(ids)) != len(ids):
        fail(INVALID, "files lists a file twice")
    return ids


def check_file_name(value) -> str:
    """A file name as shown and offered for saving: 1..255 characters, no control characters, no path."""
    if not isinstance(value, str):
        fail(INVALID, "name must be a string")
    name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or len(name) > NAME_MAX or _CONTROL.search(name) or name in (".", ".."):
        fail(INVALID, f"name must be a file name of 1..{NAME_MAX} characters without control characters")
    return name


class Files:
    """chat.file.upload and chat.file.url, and the upload and download the web port hands over."""

    def __init__(self, ctx: ChatContext) -> None:
        self._ctx = ctx
        self.signer: Optional[UrlSigner] = None   # the cluster's UrlSigner, once start() read the shared key
        self._cleanup: Optional[task.LoopingCall] = None

    def procedures(self) -> dict:
        return {"chat.file.upload": self.file_upload, "chat.file.url": self.file_url}

    async def start(self) -> None:
        """Read (or at the cluster's first start, make) the shared URL key; remove stale uploads hourly."""
        self.signer = UrlSigner(await self._ctx.store.shared_secret(KEY_NAME, new_key()))
        cleanup = self._cleanup = task.LoopingCall(self.remove_unsent)
        cleanup.clock = self._ctx.reactor
        cleanup.start(CLEANUP_INTERVAL, now=False)

    def stop(self) -> None:
        if self._cleanup is not None and self._cleanup.running:
            self._cleanup.stop()

    async def remove_unsent(self) -> int:
        """Remove the uploads made more than a day ago and never sent; how many went."""
        try:
            return await self._ctx.store.delete_unsent_files(self._ctx.now() - UNSENT_KEPT_MS)
        except StoreError as e:
            log.warn("unsent uploads not removed this time: {e}", e=e)
            return 0

    # -- procedures ---------------------------------------------------------------------------
    async def file_upload(self, room_id=None, name=None, content_type=None, size=None, details=None):
        ctx, settings = self._ctx, self._ctx.settings
        caller = await ctx.caller(details)
        if caller.role not in ACCOUNT_ROLES:
            fail(FORBIDDEN, "uploading files needs an account")
        room = await readable_room(ctx, caller, room_id)
        name = check_file_name(name)
        if content_type is not None and (not isinstance(content_type, str) or len(content_type) > NAME_MAX):
            fail(INVALID, "content_type must be a string (a hint only: the server sniffs the bytes)")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            fail(INVALID, "size must be a positive whole number of bytes")
        if size > settings.max_upload:
            fail(INVALID, f"a file may have at most {settings.max_upload} bytes")
        await refuse_sanctioned(ctx, caller, room["id"])
        file_id, token, now = secrets.token_hex(16), secrets.token_urlsafe(32), ctx.now()
        expires = now + UPLOAD_WINDOW_MS
        used = await ctx.store.add_upload(file_id, room["id"], caller.user, name, size, token_hash(token), now,
                                          expires, settings.upload_quota, now - QUOTA_WINDOW_MS)
        if used is None:
            fail(RATE_LIMITED, f"at most {settings.upload_quota} bytes of uploads per 24 hours")
        return {"file_id": file_id, "upload_url": f"/files/upload/{file_id}?token={token}", "expires": expires}

    async def file_url(self, file_id=None, details=None):
        ctx = self._ctx
        caller = await ctx.caller(details)
        check_file_id(file_id)
        row = await ctx.store.get_file(file_id)
        if row is None or not await self._may_fetch(caller, row):
            fail(NOT_FOUND, f"no file {file_id!r}")
        expires = expiry(ctx.reactor.seconds())
        answer = {"url": self.signer.url(file_id, "original", expires), "expires": expires * 1000}
        if row["width"] is not None:
            answer["thumbnail_url"] = self.signer.url(file_id, "thumbnail", expires)
        return answer

    async def _may_fetch(self, caller, row) -> bool:
        if row["message"] is None:
            return row["uploader"] == caller.user
        return await may_read(self._ctx, caller.user, row["room"])

    # -- what the web port asks ---------------------------------------------------------------
    def receive_upload(self, file_id: str, token: str, data: bytes):
        """Deferred of (HTTP status, JSON body) for the bytes sent to an upload URL."""
        return defer.ensureDeferred(self._receive(file_id, token, data))

    async def _receive(self, file_id, token, data):
        ctx = self._ctx
        hashed = token_hash(token)
        row = await ctx.store.pending_upload(file_id, hashed, ctx.now())
        if row is None:
            return 403, {"error": "this upload URL is not valid: unknown, used already or expired"}
        if len(data) != row["size"]:
            return 400, {"error": f"expected exactly {row['size']} bytes, got {len(data)}"}
        sniffed = await threads.deferToThreadPool(ctx.reactor, ctx.reactor.getThreadPool(), sniff, data)
        stored = await ctx.store.finish_upload(file_id, hashed, ctx.now(), sniffed.content_type, sniffed.width,
                                               sniffed.height, sniffed.blobs)
        if not stored:
            return 403, {"error": "this upload URL is not valid: used already or expired"}
        return 201, {"file_id": file_id}

    def download(self, file_id: str, thumbnail: bool, expires: str, signature: str):
        """Deferred of None (403: forged or expired), False (404: gone), or (file name, content type, bytes)."""
        kind = "thumbnail" if thumbnail else "original"
        if self.signer is None or not FILE_ID.match(file_id) or \
                not self.signer.valid(file_id, kind, expires, signature, self._ctx.reactor.seconds()):
            return defer.succeed(None)
        return self._ctx.store.file_blob(file_id, kind).addCallback(
            lambda found: False if found is None else (found[0]["name"], found[1], found[2]))
