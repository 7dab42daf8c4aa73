"""
The chat page end to end: a real wampchat server on 127.0.0.1 and two or
three real headless Chromium profiles chatting through it.
"""
import pytest
import pytest_twisted

from browser import ARTIFACTS, browsers, chat_service_missing, requires_browser  # noqa: F401  (a fixture)
from wampchat import testing

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]

PASSWORD = "correct horse battery"
CONNECTED = "document.getElementById('conn-state').dataset.state === 'connected'"
RECONNECTING = "document.getElementById('conn-state').dataset.state === 'reconnecting'"


class ChatServer:
    """The server under test; it can be stopped and started again on the same port and database."""

    def __init__(self, tmp_path, db, args=()):
        self.tmp_path = tmp_path
        self.db = db
        self.args = list(args)
        self.running = None
        self.port = 0

    async def start(self):
        listen = f"tcp:{self.port}:interface=127.0.0.1"
        self.running = await testing.start_server(["--listen", listen, "--db", self.db] + self.args, self.tmp_path)
        self.port = self.running.port
        return self

    async def stop(self):
        running, self.running = self.running, None
        if running is not None:
            await running.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"


def run_chat_server(tmp_path, db, args=()):
    """Start a ChatServer for a fixture, and stop it when the fixture ends (a generator)."""
    server = ChatServer(tmp_path, db, args)
    pytest_twisted.blockon(defer_of(server.start()))
    yield server
    pytest_twisted.blockon(defer_of(server.stop()))


@pytest.fixture
def chat_server(tmp_path, db_url):
    """A running wampchat with a fresh database of this test (on each store)."""
    yield from run_chat_server(tmp_path, db_url)


@pytest.fixture
def busy_chat_server(tmp_path, db_url):
    """Like chat_server, but one user may send 1000 messages per 10 s (to seed long histories)."""
    yield from run_chat_server(tmp_path, db_url, ["--send-rate", "1000"])


def defer_of(coroutine):
    from twisted.internet import defer

    return defer.ensureDeferred(coroutine)


# ------------------------------------------------------------ what a user does

async def join_as_guest(browser, server, nick):
    """Open the page and sign in as a guest; wait until connected."""
    await browser.open(server.url)
    await browser.fill("#guest-nick", nick)
    await browser.click("#guest-form button[type=submit]")
    await browser.wait_js(CONNECTED, "the guest never got connected")
    await browser.wait_text("#me", nick)


async def register(browser, server, username):
    """Open the page and create an account (register, then log in with the password)."""
    await browser.open(server.url)
    await browser.fill("#account-username", username)
    await browser.fill("#account-password", PASSWORD)
    await browser.click("#register-button")
    await browser.wait_js(CONNECTED, f"{username} never got connected after registering")
    await browser.wait_text("#me", username)


async def create_room(browser, room_id, private=False):
    """Create a room from the sidebar form; the page opens it."""
    await browser.fill("#new-room-id", room_id)
    if private:
        await browser.click("#new-room-private")
    await browser.click("#create-room-form button[type=submit]")
    await wait_room_open(browser, room_id)


async def open_room(browser, room_id):
    """Click a room (or DM) in the sidebar once it is listed."""
    await browser.click(f"li[data-room-id='{room_id}'] button")
    await wait_room_open(browser, room_id)


async def wait_room_open(browser, room_id):
    await browser.wait_js(
        "document.querySelector(`li[data-room-id='${arguments[0]}']`)?.classList.contains('active')"
        " && !document.getElementById('composer').hidden",
        f"room {room_id} did not open", room_id)


async def say(browser, text):
    """Type a message and press Enter; wait until the server has it (no longer pending)."""
    await browser.fill("#composer-input", text)
    await browser.press_enter("#composer-input")
    await browser.wait_text("#message-list .message.own .text", text.strip())
    await browser.wait_js("document.querySelectorAll('#pending-list li').length === 0", "a message stayed pending")


async def my_user_id(browser):
    """The signed-in user's id, as shown in the top bar (guests: guest_<hex>)."""
    shown = await browser.js("return document.getElementById('me').textContent;")
    return shown.rsplit("(", 1)[-1].rstrip(")") if "(" in shown else shown


async def python_client(server, username):
    """A registered user joined over a real WebSocket from Python (for seeding history)."""
    guest = await testing.connect(server.ws_url, authextra={"nick": username})
    await guest.call("chat.user.register", username, PASSWORD)
    guest.leave()
    return await testing.connect(server.ws_url, authmethods=["ticket"], authid=username, secret=PASSWORD)


def message_texts_js():
    return "[...document.querySelectorAll('#message-list .message .text')].map(e => e.textContent)"


async def ann_and_bob_in_team(chat_server, browsers):
    """Ann registers and creates the public room "team"; guest Bob joins it. Returns both browsers."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    return ann, bob


# ------------------------------------------------------------ tests

@pytest_twisted.ensureDeferred
async def test_two_people_chat_both_ways_with_typing(chat_server, browsers):
    """Ann (account) creates a room, guest Bob joins; both see each other's messages, marked own/other, and typing."""
    ann, bob = await ann_and_bob_in_team(chat_server, browsers)

    await say(ann, "Hello Bob!")
    await bob.wait_text("#message-list .message:not(.own) .text", "Hello Bob!")
    assert "ann" in await bob.wait_text("#message-list .message:not(.own) .author", "ann")

    await bob.fill("#composer-input", "Hi Ann")
    await ann.wait_text("#typing", "Bob is typing…")
    await bob.press_enter("#composer-input")
    await ann.wait_text("#message-list .message:not(.own) .text", "Hi Ann")
    await ann.wait_no_text("#typing", "typing")

    await bob.fill("#composer-input", "line one")
    from selenium.webdriver.common.keys import Keys
    await bob.type("#composer-input", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two")
    await bob.press_enter("#composer-input")
    await ann.wait_text("#message-list .message .text", "line one\nline two")

    assert await ann.texts("#message-list .message.own .text") == ["Hello Bob!"]
    assert await bob.texts("#message-list .message.own .text") == ["Hi Ann", "line one\nline two"]
    await ann.wait_text("#member-list li.online", "Bob")
    await bob.fill("#composer-input", "and one more thing")
    await ann.wait_text("#typing", "Bob is typing…")
    await ann.screenshot(ARTIFACTS / "chat.png")


@pytest_twisted.ensureDeferred
async def test_private_room_invisible_until_invited(chat_server, browsers):
    """A private room is not listed for others; the invited user sees it appear live and can read it."""
    ann, bob, cat = await browsers("ann"), await browsers("bob"), await browsers("cat")
    await register(ann, chat_server, "ann")
    await create_room(ann, "secret", private=True)
    await say(ann, "for invited eyes only")
    await register(bob, chat_server, "bob")
    await join_as_guest(cat, chat_server, "Cat")
    for outsider in (bob, cat):
        await outsider.wait_visible("li[data-room-id='lobby']")
        assert "secret" not in await outsider.texts("#room-list li")

    await ann.fill("#invite-username", "bob")
    await ann.click("#invite-form button[type=submit]")
    await open_room(bob, "secret")
    await bob.wait_text("#message-list .message .text", "for invited eyes only")
    await cat.reload()
    await cat.wait_js(CONNECTED, "cat did not reconnect after reload")
    await cat.wait_visible("li[data-room-id='lobby']")
    assert "secret" not in await cat.texts("#room-list li")


@pytest_twisted.ensureDeferred
async def test_direct_message_from_member_list(chat_server, browsers):
    """Bob opens a DM with Ann from the member list; Ann sees it arrive as an unread DM and reads it."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await open_room(ann, "lobby")
    await register(bob, chat_server, "bob")
    await open_room(bob, "lobby")
    await bob.click("#member-list li[data-user='ann'] button[data-action=dm]")
    await wait_room_open(bob, "dm_ann_bob")
    await say(bob, "psst, Ann")

    await ann.wait_text("#dm-list li[data-room-id='dm_ann_bob'] .unread", "1")
    assert await ann.texts("#dm-list li .room-name") == ["bob"]
    await open_room(ann, "dm_ann_bob")
    await ann.wait_text("#message-list .message .text", "psst, Ann")
    await ann.wait_js("document.querySelector(\"li[data-room-id='dm_ann_bob'] .unread\").hidden",
                      "the DM still shows unread messages after reading")


@pytest_twisted.ensureDeferred
async def test_edit_and_delete_are_seen_live(chat_server, browsers):
    """Ann edits one of her messages and deletes another; Bob sees both changes without reloading."""
    ann, bob = await ann_and_bob_in_team(chat_server, browsers)
    await say(ann, "teh typo")
    await say(ann, "regrettable")
    await bob.wait_text("#message-list .message .text", "regrettable")

    await ann.hover("#message-list .message.own:nth-child(1)")   # the actions toolbar shows on hover
    await ann.click("#message-list .message.own:nth-child(1) button[data-action=edit]")
    await ann.fill("#message-list .edit-box", "the typo, fixed")
    await ann.press_enter("#message-list .edit-box")
    await bob.wait_text("#message-list .message .text", "the typo, fixed")
    await bob.wait_text("#message-list .message .edited", "(edited)")

    await ann.hover("#message-list .message.own:nth-child(2)")
    await ann.click("#message-list .message.own:nth-child(2) button[data-action=delete]")
    await ann.click("#message-list .message.own:nth-child(2) button[data-action=confirm-delete]")
    await bob.wait_no_text("#message-list .message .text", "regrettable")
    await bob.wait_text("#message-list .message.deleted .text", "message deleted")
    assert await bob.js("return document.querySelectorAll('#message-list .message').length;") == 2


@pytest_twisted.ensureDeferred
async def test_history_scroll_back_loads_older_messages_once(busy_chat_server, browsers):
    """With 130 messages in a room the page shows the newest, and scrolling up loads all older ones, each once, in order."""
    ann = await python_client(busy_chat_server, "ann")
    await ann.call("chat.room.create", "archive", title="Archive")
    sent = [f"message number {n:03d}" for n in range(130)]
    for text in sent:
        await ann.call("chat.message.send", "archive", text)

    bob = await browsers("bob")
    await join_as_guest(bob, busy_chat_server, "Bob")
    await open_room(bob, "archive")
    await bob.wait_text("#message-list .message .text", sent[-1])
    shown = await bob.js(f"return {message_texts_js()};")
    assert shown == sent[-len(shown):] and len(shown) < len(sent)
    assert await bob.js("const m = document.getElementById('messages');"
                        "return m.scrollHeight - m.scrollTop - m.clientHeight < 40;")

    for _ in range(5):
        if await bob.is_visible("#history-start"):
            break
        await bob.js("document.getElementById('messages').scrollTop = 0;")
        await bob.wait_js(f"{message_texts_js()}.length > arguments[0] || "
                          "!document.getElementById('history-start').hidden",
                          "no older messages loaded", len(shown))
        shown = await bob.js(f"return {message_texts_js()};")
    await bob.wait_visible("#history-start")
    assert await bob.js(f"return {message_texts_js()};") == sent

    # Reading back at the top, a new message must not yank the view down.
    await bob.js("document.getElementById('messages').scrollTop = 0;")
    await ann.call("chat.message.send", "archive", "a new one while Bob reads back")
    await bob.wait_text("#message-list .message .text", "a new one while Bob reads back")
    await bob.wait_visible("#jump-to-bottom")
    assert await bob.js("return document.getElementById('messages').scrollTop;") < 100
    await bob.click("#jump-to-bottom")
    await bob.wait_js("(m => m.scrollHeight - m.scrollTop - m.clientHeight < 40)(document.getElementById('messages'))",
                      "jumping to the bottom did not scroll down")
    ann.leave()


@pytest_twisted.ensureDeferred
async def test_unread_counts_follow_read_markers(chat_server, browsers):
    """Messages in a room Bob is not looking at raise its unread count; opening it clears the count, also after a reload."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await create_room(ann, "news")
    await register(bob, chat_server, "bob")
    await open_room(bob, "news")
    await open_room(bob, "team")
    await open_room(ann, "news")
    await say(ann, "first news")
    await say(ann, "second news")
    await bob.wait_text("li[data-room-id='news'] .unread", "2")

    await open_room(bob, "news")
    await bob.wait_text("#message-list .message .text", "second news")
    await bob.wait_js("document.querySelector(\"li[data-room-id='news'] .unread\").hidden", "news still unread")
    await open_room(bob, "team")
    await bob.reload()
    await bob.fill("#account-password", PASSWORD)
    await bob.click("#login-button")
    await bob.wait_js(CONNECTED, "bob did not log in again")
    await bob.wait_visible("li[data-room-id='news']")
    assert await bob.js("return document.querySelector(\"li[data-room-id='news'] .unread\").hidden;")


@pytest_twisted.ensureDeferred
async def test_account_login_survives_reload_without_storing_the_password(chat_server, browsers):
    """After a reload the page remembers the username only, asks for the password, and logs back in."""
    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await ann.reload()
    await ann.wait_visible("#account-password")
    assert await ann.js("return document.getElementById('account-username').value;") == "ann"
    stored = await ann.js("return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)]);")
    assert PASSWORD not in stored and "ann" in stored
    await ann.fill("#account-password", PASSWORD)
    await ann.click("#login-button")
    await ann.wait_js(CONNECTED, "ann did not log in again")


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_refused_with_a_message(chat_server, browsers):
    """A wrong password sends the user back to the login form with an error, not into a reconnect loop."""
    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await ann.click("#sign-out")
    await ann.fill("#account-username", "ann")
    await ann.fill("#account-password", "not the password")
    await ann.click("#login-button")
    await ann.wait_text("#login-error", "refused")
    assert await ann.js("return document.getElementById('chat-view').hidden;")


@pytest_twisted.ensureDeferred
async def test_server_restart_shows_reconnecting_then_missed_messages(chat_server, browsers):
    """While the server is down the page says reconnecting; afterwards it shows what was sent meanwhile, each once."""
    bob = await browsers("bob")
    sender = await python_client(chat_server, "ann")
    await sender.call("chat.room.create", "team")
    await sender.call("chat.message.send", "team", "before the restart")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await bob.wait_text("#message-list .message .text", "before the restart")

    await chat_server.stop()
    await bob.wait_js(RECONNECTING, "the page did not notice the server went away")
    await bob.wait_text("#conn-state", "Reconnecting")

    # Messages are sent while the page is cut off: through a second server on
    # the same database, on another port, which is gone again before the
    # page's server comes back.
    meanwhile = ChatServer(chat_server.tmp_path, chat_server.db)
    await meanwhile.start()
    sender = await testing.connect(meanwhile.ws_url, authmethods=["ticket"], authid="ann", secret=PASSWORD)
    missed = [f"sent while you were away {n}" for n in range(3)]
    for text in missed:
        await sender.call("chat.message.send", "team", text)
    sender.leave()
    await meanwhile.stop()
    assert await bob.js(f"return {RECONNECTING};")

    await chat_server.start()
    await bob.wait_js(CONNECTED, "the page did not reconnect", timeout=30)
    await bob.wait_text("#message-list .message .text", missed[-1])
    assert await bob.js(f"return {message_texts_js()};") == ["before the restart"] + missed

    await say(bob, "back again")
    assert (await bob.js(f"return {message_texts_js()};")).count("back again") == 1


@pytest_twisted.ensureDeferred
async def test_html_in_messages_is_shown_as_text_and_never_runs(chat_server, browsers):
    """A message with HTML and script tags appears literally for the reader and runs nothing."""
    ann, bob = await ann_and_bob_in_team(chat_server, browsers)
    attack = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
              '<b>bold?</b> & &amp; <a href="javascript:window.__pwned=3">click</a>')
    await say(ann, attack)
    await bob.wait_text("#message-list .message .text", "<script>")
    assert await bob.texts("#message-list .message .text") == [attack]
    assert await bob.js("return document.querySelectorAll('#message-list img, #message-list script,"
                        " #message-list b, #message-list a').length;") == 0
    assert await bob.js("return window.__pwned === undefined;")
    assert await ann.js("return window.__pwned === undefined;")


@pytest_twisted.ensureDeferred
async def test_phone_width_chat(chat_server, browsers):
    """At phone width a guest picks rooms from the slide-in sidebar and chats; the menu button shows unread messages."""
    from browser import PHONE

    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    bob = await browsers("bob", size=PHONE)
    await join_as_guest(bob, chat_server, "Bob")
    assert not await bob.is_visible("#sidebar")
    await bob.click("#toggle-sidebar")
    await open_room(bob, "team")
    assert not await bob.is_visible("#sidebar")
    await say(bob, "from my phone")
    await ann.wait_text("#message-list .message .text", "from my phone")

    await bob.click("#toggle-sidebar")
    await open_room(bob, "lobby")
    await say(ann, "anyone else on a phone?")
    await bob.wait_text("#sidebar-unread", "1")
    await bob.screenshot(ARTIFACTS / "chat-phone.png")


@pytest_twisted.ensureDeferred
async def test_background_tab_gets_a_title_badge(chat_server, browsers):
    """While Bob's tab is hidden, Ann's messages count up in its title; showing the tab clears the badge and marks them read."""
    ann, bob = await ann_and_bob_in_team(chat_server, browsers)
    await bob.js("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                 "document.dispatchEvent(new Event('visibilitychange'));")
    await say(ann, "are you there?")
    await say(ann, "hello?")
    await bob.wait_js("document.title === '(2) wampchat'", "the title shows no badge")
    await bob.wait_text("li[data-room-id='team'] .unread", "2")

    await bob.js("Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
                 "document.dispatchEvent(new Event('visibilitychange'));")
    await bob.wait_js("document.title === 'wampchat'", "the badge stayed after showing the tab")
    await bob.wait_js("document.querySelector(\"li[data-room-id='team'] .unread\").hidden", "team still unread")


@pytest_twisted.ensureDeferred
async def test_leaving_a_room_updates_the_member_list(chat_server, browsers):
    """When Bob leaves the room, he disappears from Ann's member list and the room closes on his page."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await register(bob, chat_server, "bob")
    await open_room(bob, "team")
    await ann.wait_visible("#member-list li[data-user='bob']")
    await bob.click("#leave-room")
    await bob.wait_visible("#no-room")
    await ann.wait_js("!document.querySelector(\"#member-list li[data-user='bob']\")",
                      "bob is still listed as a member after leaving")


@pytest_twisted.ensureDeferred
async def test_guest_nick_of_a_registered_user_is_refused(chat_server, browsers):
    """A guest cannot take a registered user's name: the login form says so instead of retrying forever."""
    ann, impostor = await browsers("ann"), await browsers("impostor")
    await register(ann, chat_server, "ann")
    await impostor.open(chat_server.url)
    await impostor.fill("#guest-nick", "Ann")
    await impostor.click("#guest-form button[type=submit]")
    await impostor.wait_text("#login-error", "taken")
    assert await impostor.js("return document.getElementById('chat-view').hidden;")
