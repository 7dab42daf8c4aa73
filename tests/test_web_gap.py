"""The page catches up when the server says live events of a room may be missing (chat.room.<id>.gap)."""
import pytest
import pytest_twisted

from browser import browsers, chat_service_missing, requires_browser  # noqa: F401  (a fixture)
from test_web_chat import chat_server, join_as_guest, message_texts_js, open_room, python_client  # noqa: F401

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]


class LostLive:
    """Drops the live events of one topic in the server's broker, as a lost RabbitMQ queue would."""

    def __init__(self, broker, topic):
        self.broker = broker
        self.topic = topic
        self._deliver = broker._deliver

    def __enter__(self):
        def deliver(topic, *args, **kwargs):
            return 0 if topic == self.topic else self._deliver(topic, *args, **kwargs)
        self.broker._deliver = deliver
        return self

    def __exit__(self, *exc):
        self.broker._deliver = self._deliver


@pytest_twisted.ensureDeferred
async def test_a_gap_event_makes_the_page_fetch_what_it_missed(chat_server, browsers):
    """Messages whose live events never reached the page appear, each once, when the room's gap event comes."""
    bob = await browsers("bob")
    sender = await python_client(chat_server, "ann")
    await sender.call("chat.room.create", "team")
    await sender.call("chat.message.send", "team", "seen live")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await bob.wait_text("#message-list .message .text", "seen live")
    realm = chat_server.running.router.realm(chat_server.running.options["realm"])
    missed = [f"lost on the way {n}" for n in range(3)]
    with LostLive(realm.broker, "chat.room.team.message"):
        for text in missed:
            await sender.call("chat.message.send", "team", text)
    assert await bob.js(f"return {message_texts_js()};") == ["seen live"]

    realm.broker.inject("chat.room.team.gap", [{"room": "team", "reason": "queue_lost"}], None, origin="gap")
    await bob.wait_text("#message-list .message .text", missed[-1])
    assert await bob.js(f"return {message_texts_js()};") == ["seen live"] + missed
