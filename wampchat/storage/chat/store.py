"""
:class:`ChatStore`: the chat tables as Deferreds, for the chat service.

Each method runs one domain module's function in one transaction on the
database threads (:meth:`Database.run`). Nothing here is cached: every node
of a cluster sees what another committed as soon as it committed. Sends
(group commit) and cluster presence submit their own batches of
:mod:`~wampchat.storage.chat.sends` and :mod:`~wampchat.storage.chat.presence`.
"""
from wampchat.storage.chat import account_data
from wampchat.storage.chat import accounts, audit, members, messages, moderation, rates, reactions, reports, rooms
from wampchat.storage.chat import previews, retention, revocations, sanctions, search, server_bans
from wampchat.storage.leases import take_lease
from wampchat.storage.chat.members import MEMBERS_PAGE
from wampchat.storage.chat.rooms import ROOMS_PAGE


class ChatStore:
    """Asynchronous access to the chat tables (every method returns a Deferred)."""

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

    def rooms_of(self, user):
        return self._run(members.rooms_of, user)

    def visible_rooms(self, user, after=None, limit=ROOMS_PAGE):
        """A page of the rooms ``user`` can see (:func:`~wampchat.storage.chat.rooms.visible_rooms`)."""
        return self._run(rooms.visible_rooms, user, after, limit)

    def find_dm(self, a, b):
        return self._run(rooms.find_dm, a, b)

    # -- moderation -----------------------------------------------------------------------
    def member_role(self, room_id, user):
        return self._run(moderation.member_role, room_id, user)

    def moderated_rooms(self, user):
        return self._run(moderation.moderated_rooms, user)

    def room_moderators(self, room_id):
        """The room's owner and moderators (usernames, sorted)."""
        return self._run(moderation.room_moderators, room_id)

    def set_role(self, room_id, user, role, actor, now):
        """The role ``user`` had (None: not a member); changed and audited unless they are the owner."""
        return self._run(moderation.set_role, room_id, user, role, actor, now)

    def update_room(self, room_id, changes, actor, now):
        """(Room now, what changed), audited; (None, {}) when there is no such room."""
        return self._run(moderation.update_room, room_id, changes, actor, now)

    def audit_entries(self, rooms, before, limit):
        """(entries newest first, more) of ``rooms`` (None: every room) below the id ``before``."""
        return self._run(audit.entries, rooms, before, limit)

    # -- sanctions: kicks, bans, mutes, server bans, and the revocations every node applies ----------
    def kick(self, room_id, user, actor, reason, now, node):
        return self._run(sanctions.kick, room_id, user, actor, reason, now, node)

    def ban(self, room_id, user, address, actor, reason, now, until, node):
        """Ban ``user`` from the room; True when they were a member."""
        return self._run(sanctions.ban, room_id, user, address, actor, reason, now, until, node)

    def unban(self, room_id, user, actor, now):
        return self._run(sanctions.unban, room_id, user, actor, now)

    def bans(self, room_id, now):
        return self._run(sanctions.bans, room_id, now)

    def mute(self, room_id, user, actor, reason, now, until):
        return self._run(sanctions.mute, room_id, user, actor, reason, now, until)

    def unmute(self, room_id, user, actor, now):
        return self._run(sanctions.unmute, room_id, user, actor, now)

    def sanction(self, room_id, user, address, now):
        """``"ban"``, ``"mute"`` or None: what holds ``user`` (or a guest's ``address``) back in the room."""
        return self._run(sanctions.sanction, room_id, user, address, now)

    def record_guest_address(self, room_id, user, address):
        return self._run(sanctions.record_guest_address, room_id, user, address)

    def server_ban(self, user, address, actor, reason, now, until, node):
        return self._run(server_bans.ban, user, address, actor, reason, now, until, node)

    def server_unban(self, user, actor, now):
        return self._run(server_bans.unban, user, actor, now)

    def server_bans(self, now):
        return self._run(server_bans.bans, now)

    def login_ban(self, user, address, now):
        """The server ban refusing this login (``{reason, until}``), or None."""
        return self._run(server_bans.login_ban, user, address, now)

    def add_revocation(self, now, node, kind, user, room=None, reason=None, keep_session=None):
        return self._run(revocations.append, now, node, kind, user, room, reason, keep_session)

    def revocations_since(self, ts, node):
        return self._run(revocations.since, ts, node)

    def prune_revocations(self, before):
        return self._run(revocations.prune, before)
    # -- message reports ------------------------------------------------------------------
    def add_report(self, room_id, message_id, reporter, reason, now):
        """(Report, created), the reporter's earlier report of the message if any; None: no live message."""
        return self._run(reports.add_report, room_id, message_id, reporter, reason, now)

    def find_report(self, room_id, message_id, reporter):
        return self._run(reports.find_report, room_id, message_id, reporter)

    def get_report(self, report_id):
        return self._run(reports.get_report, report_id)

    def reports(self, rooms, resolved, limit):
        """Open (or resolved) reports of ``rooms`` (None: every room), newest first."""
        return self._run(reports.reports, rooms, resolved, limit)

    def resolve_report(self, report_id, actor, resolution, now):
        """The resolved Report with its audit entry, or None when it was resolved already."""
        return self._run(reports.resolve_report, report_id, actor, resolution, now)

    def report_recipients(self, room_id):
        """Who is told of a new report: the room's owner and moderators and every admin."""
        return self._run(reports.recipients, room_id)
    # -- retention (one node of a cluster at a time) ------------------------------------------
    def take_lease(self, name, holder, now_ms, hold_ms):
        """True when ``holder`` holds the job lease ``name`` until ``now_ms + hold_ms``."""
        return self._run(take_lease, name, holder, now_ms, hold_ms)

    def delete_expired(self, default_days, now_ms, limit, from_room=""):
        """(messages deleted, room to go on from or None): one bounded batch of retention."""
        return self._run(retention.delete_expired, default_days, now_ms, limit, from_room)

    def take_rate(self, kind, keys, count, window_ms, now):
        """None when one ``kind`` event was counted for every key; else milliseconds until one may be."""
        return self._run(rates.take_rate, kind, list(keys), count, window_ms, now)

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
