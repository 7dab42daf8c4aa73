"""
The page falls back to WAMP over HTTP long-poll by itself: in headless Chromium with WebSocket gone, or with
every WebSocket failing as on a network that blocks it, a guest signs in and chats both ways with a user on a
WebSocket.
"""
import pytest
import pytest_twisted

from browser import browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from helpers import Collector
from test_web_chat import chat_server, join_as_guest, python_client, say, wait_room_open  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]

NO_WEBSOCKET = "window.WebSocket = undefined;"
# What a page sees where a proxy refuses the upgrade: every WebSocket closes abnormally (1006) before it opens.
BLOCKED_WEBSOCKET = """
window.WebSocket = class {
  constructor() {
    this.readyState = 0;
    setTimeout(() => { this.readyState = 3; this.onclose({ code: 1006, reason: "", wasClean: false }); }, 20);
  }
  send() { throw new Error("not open"); }
  close() {}
};
"""


@pytest.mark.parametrize("websocket", [NO_WEBSOCKET, BLOCKED_WEBSOCKET], ids=["missing", "blocked"])
@pytest_twisted.ensureDeferred
async def test_a_page_without_websocket_chats_over_long_poll(chat_server, browsers, websocket):
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.join", "lobby")
    heard = Collector()
    await ann.subscribe(heard, "chat.room.lobby.message")

    lou = await browsers("lou")
    await lou.before_every_page(websocket)
    await join_as_guest(lou, chat_server, "Lou")
    assert len(chat_server.running.service.longpoll._open) == 1   # the page's session is on /lp
    await wait_room_open(lou, "lobby")

    await say(lou, "hello from a network without WebSocket")
    events = await heard.wait_for(1)
    assert events[-1][0][0]["text"] == "hello from a network without WebSocket"
    await ann.call("chat.message.send", "lobby", "hello back over the WebSocket")
    await lou.wait_text("#message-list .message .text", "hello back over the WebSocket")
    ann.leave()
