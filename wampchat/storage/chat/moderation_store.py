"""
The moderation half of :class:`~wampchat.storage.chat.store.ChatStore`: roles and room settings, sanctions and
server bans, the revocations feed, reports, the audit log and retention, as Deferreds (each method one
domain function in one transaction, :meth:`Database.run`).
"""
from typing import Callable

from wampchat.storage.chat import audit, moderation, reports, retention, revocations, sanctions, server_bans
from wampchat.storage.leases import take_lease


class ModerationStore:
    """Moderation's methods of the chat store; ``_run`` is the store's :meth:`Database.run`."""

    _run: Callable   # the store's Database.run, set by ChatStore

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

    def account_login(self, user, now):
        """(the server ban refusing an account's login or None, its display name)."""
        return self._run(server_bans.account_login, user, now)

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
