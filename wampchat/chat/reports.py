"""
``chat.message.report``, ``chat.admin.reports`` and ``chat.admin.resolve``: message reports (API §8).

Anyone who may read a message may report it; the report keeps a copy of the message as it was, and the
room's moderator+ (its owner and moderators, and every admin) are told at once, on whatever node they are.
Reports are counted per user (and per address for guests) in the database, so they cannot be used to flood
moderators. Moderator+ list and resolve a room's reports; a resolution is audited.
"""
from wampchat.chat import checks
from wampchat.chat.authorization import readable_room
from wampchat.chat.context import Caller, ChatContext
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, fail
from wampchat.chat.moderation import Moderation

NOTE_MAX = 500                       # characters of a report's reason and of a resolution
REPORT_RATE = 20                     # reports one user may make per hour (every node counts in the database)
GUEST_ADDRESS_REPORT_RATE = 60       # reports the guests of one client address may make per hour
REPORTS_DEFAULT, REPORTS_MAX = 50, 200
REPORT_ID_MAX = 2 ** 63 - 1


class Reports:
    """chat.message.report, chat.admin.reports and chat.admin.resolve."""

    def __init__(self, ctx: ChatContext, moderation: Moderation) -> None:
        self._ctx = ctx
        self._moderation = moderation   # who is moderator+ of a room, and which rooms one moderates

    def procedures(self) -> dict:
        return {"chat.message.report": self.report, "chat.admin.reports": self.reports,
                "chat.admin.resolve": self.resolve}

    # -- chat.message.report -----------------------------------------------------------------
    async def report(self, room_id=None, message_id=None, reason=None, details=None) -> dict:
        """``{id}`` of the caller's report of the message: a new one, or the one they made before."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        reason = check_note(reason, "reason")
        await readable_room(ctx, caller, room_id)
        checks.check_message_id(message_id)
        earlier = await ctx.store.find_report(room_id, message_id, caller.user)
        if earlier is not None:
            return {"id": earlier["id"]}
        await self._count(caller, details)
        added = await ctx.store.add_report(room_id, message_id, caller.user, reason, ctx.now())
        if added is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        report, created = added
        if created:
            await self._tell_moderators(caller, report)
        return {"id": report["id"]}

    async def _count(self, caller: Caller, details) -> None:
        """Count the report, or refuse with rate_limited: per user, and for guests (a new id at every login)
        per client address too."""
        ctx = self._ctx
        await ctx.counted("report", [caller.user], REPORT_RATE,
                          f"at most {REPORT_RATE} reports per hour; try again later")
        if caller.role == "guest":
            await ctx.counted("guest_report", [ctx.address(details)], GUEST_ADDRESS_REPORT_RATE,
                              "too many reports from this address; try again later")

    async def _tell_moderators(self, caller: Caller, report: dict) -> None:
        """Notify the room's owner, its moderators and every admin (not the reporter: they know)."""
        for user in await self._ctx.store.report_recipients(report["room"]):
            if user != caller.user:
                self._ctx.notify(user, {"event": "report", "report": report})

    # -- chat.admin.reports -----------------------------------------------------------------
    async def reports(self, room=None, open=None, limit=None, details=None) -> list:
        """Open (``open`` true, the default) or resolved reports, newest first: every room's for admins, else
        those of the room(s) the caller owns or moderates."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        unresolved = True if open is None else checks.check_bool(open, "open")
        limit = checks.check_limit(limit, REPORTS_DEFAULT, REPORTS_MAX)
        rooms = await self._moderation.moderated_scope(caller, room, "reports")
        return await ctx.store.reports(rooms, not unresolved, limit)

    # -- chat.admin.resolve -----------------------------------------------------------------
    async def resolve(self, report_id=None, resolution=None, details=None) -> None:
        """Resolve an open report (moderator+ of its room); the resolution goes into the audit log."""
        ctx = self._ctx
        caller = await ctx.caller(details)
        check_report_id(report_id)
        resolution = check_note(resolution, "resolution")
        report = await ctx.store.get_report(report_id)
        if report is None:
            fail(NOT_FOUND, f"no report {report_id!r}")
        room = await self._moderation.room_of(caller, report["room"])   # not_found unless readable
        if not await self._moderation.is_moderator(caller, room):
            fail(FORBIDDEN, "only the room's owner, its moderators or an admin may resolve its reports")
        if "resolved_by" in report or await ctx.store.resolve_report(report_id, caller.user, resolution,
                                                                      ctx.now()) is None:
            fail(CONFLICT, f"report {report_id} is already resolved")
        return None


def check_note(value, name: str) -> str:
    """A report's reason or a resolution: text of 1..NOTE_MAX characters, not only whitespace; kept stripped."""
    if not isinstance(value, str) or not value.strip() or len(value) > NOTE_MAX:
        fail(INVALID, f"{name} must be a text of 1..{NOTE_MAX} characters")
    return value.strip()


def check_report_id(value) -> int:
    """A report id: a whole number 1..2**63-1 (never a boolean)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= REPORT_ID_MAX:
        fail(INVALID, "report_id must be a whole number")
    return value
