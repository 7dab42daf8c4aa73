"""Logins while the database is away: the same clear ``unavailable`` answer as calls, one warning for the
outage, nothing at error or critical level, and logins work again once it is back."""
import pytest_twisted
from twisted.logger import globalLogPublisher

from chatkit import PASSWORD, ChatWorld
from postgres import postgres  # noqa: F401 (fixture)


class _Levels:
    """Counts log events by level while installed."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def at(self, *levels):
        return [e for e in self.events if getattr(e.get("log_level"), "name", "") in levels or "log_failure" in e]


async def _abort_reason(world, **kwargs):
    """The ABORT reason a login gets (fails the test if the login succeeds)."""
    try:
        session = await world.connect(**kwargs)
    except Exception as e:   # the client's connect fails with the ABORT's reason
        return str(getattr(e, "error", None) or e)
    raise AssertionError(f"the login succeeded: {session}")


@pytest_twisted.ensureDeferred
async def test_logins_while_the_database_is_down_are_unavailable_and_log_one_warning(postgres, tmp_path):
    world = ChatWorld(tmp_path, postgres.new_database())
    await world.start()
    await world.register("ann")
    levels = _Levels()
    globalLogPublisher.addObserver(levels)
    try:
        postgres.stop()
        try:
            for _ in range(5):
                for kwargs in ({"authmethods": ["ticket"], "authid": "ann", "secret": PASSWORD},
                               {"authmethods": ["wampcra"], "authid": "ann", "secret": PASSWORD},
                               {"authmethods": ["anonymous"], "authextra": {"nick": "Gus"}}):
                    assert "wampchat.error.unavailable" in await _abort_reason(world, **kwargs)
            assert levels.at("error", "critical") == []
            warnings = [e for e in levels.at("warn") if "unavailable" in str(e.get("log_format"))]
            assert 1 <= len(warnings) <= 3, [e.get("log_format") for e in warnings]
        finally:
            postgres.start()
        ann = await world.user("ann", register=False)
        assert (await ann.call("chat.user.me"))["user"] == "ann"
        guest = await world.guest("Gus")
        assert (await guest.call("chat.user.me"))["nick"] == "Gus"
    finally:
        globalLogPublisher.removeObserver(levels)
        await world.stop()
