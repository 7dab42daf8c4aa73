"""
:class:`ChatStore`: the chat tables as Deferreds, for the chat service.

Each method runs one domain module's function in one transaction on the
database threads (:meth:`Database.run`). Nothing here is cached: every node
of a cluster sees what another committed as soon as it committed. Sends
(group commit) and cluster presence submit their own batches of
:mod:`~wampchat.storage.chat.sends` and :mod:`~wampchat.storage.chat.presence`.
"""
from wampchat.storage.chat import account_data, accounts, files, group_dms, members, messages, pins, rates, reactions
from wampchat.storage.chat import keys, previews, rooms, search, tokens, webhooks
from wampchat.storage.chat.moderation_store import ModerationStore
from wampchat.storage.chat.members import MEMBERS_PAGE
from wampchat.storage.chat.rooms import ROOMS_PAGE


class ChatStore(ModerationStore):
    """Asynchronous access to the chat tables (every method returns a Deferred); moderation's part is
    :class:`~wampchat.storage.chat.moderation_store.ModerationStore`."""

    def __init__(self, database):
        self.database = database
        self._run = database.run

    @property
    def engine(self):
        return self.database.engine

    def close(self):
        self.database.close()

    # -- users ------------------------------------------------------------------------
    def add_user(self, creds, display_name, created):
        """Insert a user; fails with :class:`~wampchat.storage.Conflict` when the name is taken."""
        return self._run(accounts.add_user, creds, display_name, created)

    def get_user(self, username):
        return self._run(accounts.user_dict, username)

    def get_credentials(self, authid):
        """The router's credentials provider interface (read per login, so changes apply at once)."""
        return self._run(accounts.credentials, authid)

    def display_name(self, username):
        """A registered user's display name, or None when there is no such user."""
        return self._run(accounts.display_name, username)

    def known_user(self, username):
        return self._run(accounts.known_user, username)

    def name_in_use(self, key, guest):
        return self._run(accounts.name_in_use, key, guest)

    # -- self-service accounts (chat.user.update, change_password, export, delete) ----------
    def name_used_by_others(self, key, user):
        return self._run(accounts.name_used_by_others, key, user)

    def set_display_name(self, user, name):
        return self._run(accounts.set_display_name, user, name)

    def set_credentials(self, creds):
        """New password hash and WAMP-CRA secret of a live account; False when there is none."""
        return self._run(accounts.set_credentials, creds)

    def export_page(self, user, before, limit, rooms_limit):
        return self._run(account_data.export_page, user, before, limit, rooms_limit)

    def delete_account(self, user, now):
        """Rooms the deleted account was in, or None when there was no such live account."""
        return self._run(account_data.delete_account, user, now)

    # -- API tokens and Cryptosign keys (API §11) -----------------------------------------
    def add_token(self, token_id, username, name, token_hash, created):
        """Store a token's hash; fails with TooManyTokens past the per-user cap."""
        return self._run(tokens.add_token, token_id, username, name, token_hash, created)

    def tokens_of(self, username):
        return self._run(tokens.tokens_of, username)

    def revoke_token(self, username, token_id):
        return self._run(tokens.revoke_token, username, token_id)

    def use_token(self, token_id, token_hash, now):
        """The live owner of a token (its last use noted), or None."""
        return self._run(tokens.use_token, token_id, token_hash, now)

    def key_identity(self, pubkey):
        """(username, role) of a Cryptosign key's live owner, or None."""
        return self._run(keys.key_identity, pubkey)

    # -- incoming webhooks -----------------------------------------------------------------
    def add_webhook(self, hook_id, room, name, secret_hash, creator, created):
        return self._run(webhooks.add_webhook, hook_id, room, name, secret_hash, creator, created)

    def webhooks_of(self, room):
        return self._run(webhooks.webhooks_of, room)

    def delete_webhook(self, room, hook_id):
        return self._run(webhooks.delete_webhook, room, hook_id)

    def use_webhook(self, hook_id, secret_hash):
        """The webhook (room, name) with this id and secret, or None."""
        return self._run(webhooks.use_webhook, hook_id, secret_hash)

    # -- rooms --------------------------------------------------------------------------
    def create_room(self, room_id, title, private, owner, created, members=()):
        """Create a room with its first members; False if the id is taken."""
        return self._run(rooms.create_room, room_id, title, private, owner, created, list(members))

    def get_room(self, room_id):
        return self._run(rooms.get_room, room_id)

    def open_dm(self, caller, other, now):
        """(Room, created): the DM of ``caller`` and ``other``, made if needed, with ``caller`` a member."""
        return self._run(rooms.open_dm, caller, other, now)

    def is_member(self, room_id, user):
        return self._run(members.is_member, room_id, user)

    def member_names(self, room_id):
        return self._run(members.member_names, room_id)

    def members(self, room_id, after=None, limit=MEMBERS_PAGE):
        return self._run(members.members_page, room_id, after, limit)

    def add_member(self, room_id, user, joined):
        return self._run(members.add_member, room_id, user, joined)

    def remove_member(self, room_id, user):
        return self._run(members.remove_member, room_id, user)

    def set_notify(self, room_id, user, level):
        return self._run(members.set_notify, room_id, user, level)

    def find_group(self, users):
        return self._run(group_dms.find_group, users)

    def open_group(self, caller, users, title, now):
        """(Room, created): the group DM of ``users``, made if needed, with ``caller`` a member."""
        return self._run(group_dms.open_group, caller, users, title, now)

    # -- pins -----------------------------------------------------------------------------
    def pin(self, room_id, message_id, user, on, now):
        """(pinned ids, changed), None for no such live message; fails with TooManyPins past the limit."""
        return self._run(pins.pin, room_id, message_id, user, on, now)

    def pinned_ids(self, room_id):
        return self._run(pins.pinned_ids, room_id)

    def pinned_messages(self, room_id):
        return self._run(pins.pinned_messages, room_id)

    def rooms_of(self, user):
        return self._run(members.rooms_of, user)

    def visible_rooms(self, user, after=None, limit=ROOMS_PAGE):
        """A page of the rooms ``user`` can see (:func:`~wampchat.storage.chat.rooms.visible_rooms`)."""
        return self._run(rooms.visible_rooms, user, after, limit)

    def find_dm(self, a, b):
        return self._run(rooms.find_dm, a, b)

    def take_rate(self, kind, keys, count, window_ms, now):
        """None when one ``kind`` event was counted for every key; else milliseconds until one may be."""
        return self._run(rates.take_rate, kind, list(keys), count, window_ms, now)

    # -- files (storage.chat.files) --------------------------------------------------------
    def shared_secret(self, name, candidate):
        """The cluster's secret ``name``: ``candidate`` when nobody stored one before, else that one."""
        return self._run(files.shared_secret, name, candidate)

    def add_upload(self, file_id, room, user, name, size, token_hash, now, expires, quota, since):
        """Bytes the user declared since ``since`` with this one, or None (nothing stored) past ``quota``."""
        return self._run(files.add_upload, file_id, room, user, name, size, token_hash, now, expires, quota, since)

    def pending_upload(self, file_id, token_hash, now):
        return self._run(files.pending_upload, file_id, token_hash, now)

    def finish_upload(self, file_id, token_hash, now, content_type, width, height, blobs):
        """False when the one-use token was spent (or ran out) meanwhile."""
        return self._run(files.finish_upload, file_id, token_hash, now, content_type, width, height, blobs)

    def get_file(self, file_id):
        return self._run(files.get_file, file_id)

    def file_blob(self, file_id, kind):
        """(file row, content type, bytes) or None."""
        return self._run(files.file_blob, file_id, kind)

    def delete_unsent_files(self, created_before):
        return self._run(files.delete_unsent, created_before)

    # -- messages -------------------------------------------------------------------------
    def get_message(self, room_id, message_id):
        return self._run(messages.get_message, room_id, message_id)

    def edit_message(self, room_id, message_id, text, edited, keep_preview=False):
        """New text; the mentions follow it (nobody is notified of an edit), the link preview goes unless
        ``keep_preview``. The edited Message, or None."""
        return self._run(messages.edit_message, room_id, message_id, text, edited, keep_preview)

    def set_preview(self, room_id, message_id, text, preview):
        """The Message with its link preview, or None when it was edited, deleted or previewed meanwhile."""
        return self._run(previews.set_preview, room_id, message_id, text, preview)

    def delete_message(self, room_id, message_id, by_other=None, now=None):
        """Blank a message; deleted by ``by_other`` (not its author), audited."""
        return self._run(messages.delete_message, room_id, message_id, by_other, now)

    def thread(self, room_id, root_id, after, limit):
        """(replies oldest first, more) of a chain, after the id ``after``."""
        return self._run(messages.thread, room_id, root_id, after, limit)

    def react(self, room_id, message_id, user, emoji, on, now):
        """(Message with reactions, changed) or None; fails with ReactionRefused past the emoji limit."""
        return self._run(reactions.react, room_id, message_id, user, emoji, on, now)

    def join_page(self, room_id, limit=50):
        """The newest ``limit`` messages with ``more``, ``changes`` (cursor) and ``reads`` (user -> id)."""
        return self._run(messages.join_page, room_id, limit)

    def changes(self, room_id, changed_after, limit=50):
        """Messages changed after the cursor, oldest change first; ``changes`` is the cursor to go on from."""
        return self._run(messages.changes_after, room_id, changed_after, limit)

    def search(self, user, query, room_id=None, before=None, limit=20):
        """Up to ``limit`` hits of a parsed query that ``user`` may read, newest first, and ``more``."""
        return self._run(search.search, user, query, room_id, before, limit)

    def history(self, room_id, before=None, after=None, limit=50):
        """Up to ``limit`` messages, oldest first, and whether more lie beyond them.

        With ``after`` (and no ``before``) the page starts right after it
        (catching up); otherwise it ends right before ``before`` or now
        (scrolling back). Ids sort in commit order within a room, so a page
        after an id never skips a message that committed later.
        """
        return self._run(messages.history, room_id, before, after, limit)

    def mark_read(self, room_id, user, message_id):
        return self._run(members.mark_read, room_id, user, message_id)
