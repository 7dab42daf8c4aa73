"""
The page's look and notifications (issue 29) in headless Chromium: one author's consecutive messages grouped
under one name and avatar, the actions toolbar reached by keyboard, dark mode from prefers-color-scheme (axe-clean
in both schemes), the unread count in the title and favicon, desktop notifications by the room's level, the
per-room notification menu, and group DMs from the "New group" dialog.
"""
import os
import pathlib

import pytest
import pytest_twisted
from selenium.webdriver.common.keys import Keys

from browser import ARTIFACTS, REPO, browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from test_web_chat import (  # noqa: F401 (fixtures)
    PASSWORD, chat_server, join_as_guest, open_room, python_client, register, wait_room_open,
)
from test_web_features import AXE, axe_violations, tab_to
from wampchat import testing

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]

UPDATE_SCREENSHOT = os.environ.get("WAMPCHAT_UPDATE_SCREENSHOT") == "1"   # then web/screenshot.png is redrawn
ITEMS = "[...document.querySelectorAll('#message-list li.message')]"
DARK = {"media": "", "features": [{"name": "prefers-color-scheme", "value": "dark"}]}
LIGHT = {"media": "", "features": [{"name": "prefers-color-scheme", "value": "light"}]}
ROOT_BACKGROUND = "return getComputedStyle(document.documentElement).backgroundColor;"


async def seeded_team(chat_server):
    """Ann creates "team"; Ann, Ann, Cid, Ann write in it (in seconds: Ann's first two form one group)."""
    ann = await python_client(chat_server, "ann")
    cid = await python_client(chat_server, "cid")
    await ann.call("chat.room.create", "team")
    await cid.call("chat.room.join", "team")
    await ann.call("chat.message.send", "team", "**Welcome** to the team room")
    await ann.call("chat.message.send", "team", "a second line from ann, see https://example.com")
    await cid.call("chat.message.send", "team", "hello from cid, @ann")
    await ann.call("chat.message.send", "team", "ann again after cid")
    return ann, cid


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is missing: run `make node-test-deps` (npm ci in tests/js)")
@pytest_twisted.ensureDeferred
async def test_grouped_messages_avatars_keyboard_toolbar_and_dark_mode(chat_server, browsers):
    """Ann's two messages in a row show her name and avatar once; Cid's starts a new group and so does Ann's
    after it. Tabbing to a message shows its toolbar of labelled buttons. Dark mode follows
    prefers-color-scheme, and both schemes are axe-clean."""
    ann, cid = await seeded_team(chat_server)
    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await bob.wait_js(f"{ITEMS}.length === 4", "not every message is shown")

    assert await bob.js(f"return {ITEMS}.map(li => li.classList.contains('grouped'));") == [False, True, False, False]
    shown_names = await bob.js(f"return {ITEMS}.map(li => li.querySelector('.author'))"
                               ".filter(a => a.getBoundingClientRect().width > 1).map(a => a.textContent);")
    assert shown_names == ["ann", "cid", "ann"]
    avatars = await bob.js(f"return {ITEMS}.map(li => li.querySelector('.avatar'))"
                           ".map(a => a.offsetParent ? [a.textContent, a.style.backgroundColor] : null);")
    assert [a and a[0] for a in avatars] == ["AN", None, "CI", "AN"]
    assert avatars[0][1] == avatars[3][1] != avatars[2][1]   # one colour per person
    # A grouped message keeps its author and time for screen readers.
    assert await bob.js(f"return {ITEMS}[1].querySelector('.author').textContent;") == "ann"

    toolbar_opacity = (f"return getComputedStyle({ITEMS}.find(li => li.textContent.includes(arguments[0]))"
                       ".querySelector('.actions')).opacity;")
    assert await bob.js(toolbar_opacity, "from cid") == "0"
    await tab_to(bob, "e.closest && e.closest('.actions') && e.closest('li').textContent.includes('from cid')",
                 "the toolbar of cid's message")
    assert await bob.js(toolbar_opacity, "from cid") == "1"
    focused = await bob.js("const e = document.activeElement; return [e.tagName, e.getAttribute('aria-label'),"
                           " e.closest('[role=toolbar]').getAttribute('aria-label')];")
    assert focused == ["BUTTON", "Add a reaction", "Actions on the message of cid"]
    labels = await bob.js("return [...document.activeElement.closest('.actions').querySelectorAll('button')]"
                          ".map(b => b.getAttribute('aria-label') || b.textContent);")
    assert labels == ["Add a reaction", "Reply", "Report"]   # Reply: replies.js adds it with addMessageAction
    await bob.keys(Keys.TAB)
    assert (await bob.active_element())[3] == "reply"
    await bob.keys(Keys.TAB, shift=True)   # back on "Add a reaction", so the toolbar shows in the pictures

    await bob.cdp("Emulation.setEmulatedMedia", LIGHT)
    light = await bob.js(ROOT_BACKGROUND)
    assert await axe_violations(bob) == []
    await bob.screenshot(ARTIFACTS / "look-light.png")
    if UPDATE_SCREENSHOT:
        await bob.screenshot(REPO / "web" / "screenshot.png")
    await bob.cdp("Emulation.setEmulatedMedia", DARK)
    await bob.wait_js("getComputedStyle(document.documentElement).backgroundColor !== arguments[0]",
                      "the background did not change in dark mode", light)
    assert await bob.js(ROOT_BACKGROUND) == "rgb(21, 24, 28)" and light == "rgb(246, 247, 249)"
    assert await axe_violations(bob) == []
    await bob.screenshot(ARTIFACTS / "look-dark.png")
    ann.leave()
    cid.leave()


@pytest_twisted.ensureDeferred
async def test_title_and_favicon_count_unread_messages_of_rooms_not_open(chat_server, browsers):
    """Bob reads the lobby while two messages arrive in team: the title says (2) and the favicon has a badge;
    opening team clears both."""
    ann, cid = await seeded_team(chat_server)
    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await open_room(bob, "lobby")
    await bob.wait_js("document.title === 'wampchat'", "team's history still counts as unread after reading it")
    await ann.call("chat.message.send", "team", "news one")
    await ann.call("chat.message.send", "team", "news two")
    await bob.wait_js("document.title === '(2) wampchat'", "the title shows no unread count")
    assert (await bob.js("return document.querySelector('link[rel~=icon]').href;")).startswith("data:image/png")

    await open_room(bob, "team")
    await bob.wait_js("document.title === 'wampchat'", "the count stayed after reading the room")
    assert await bob.js("return document.querySelector('link[rel~=icon]').href;") == "data:,"
    ann.leave()
    cid.leave()


STUB_NOTIFICATIONS = """
const Real = window.Notification;
window.__shown = [];
class Recorded {
  constructor(title, options) { this.title = title; this.body = options.body; window.__shown.push(this); }
  close() {}
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
}
window.Notification = Recorded;
"""
HIDE_TAB = ("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
            "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'));")
SHOWN = "return window.__shown.map(n => [n.title, n.body]);"


async def levels_of(client):
    """{room id: notify level} from chat.room.list."""
    return {room["id"]: room.get("notify") for room in await client.call("chat.room.list")}


@pytest_twisted.ensureDeferred
async def test_desktop_notifications_follow_the_room_level(chat_server, browsers):
    """Bob turns desktop notifications on (permission granted), sets team to Mentions from its menu and hides
    the tab: a plain message is quiet, a mention and a DM notify; at Nothing a mention is quiet too.
    Clicking a notification opens its room."""
    ann, cid = await seeded_team(chat_server)
    bob = await browsers("bob")
    await register(bob, chat_server, "bob")
    await bob.cdp("Browser.grantPermissions", {"origin": chat_server.url.rstrip("/"), "permissions": ["notifications"]})
    await bob.js(STUB_NOTIFICATIONS)
    await open_room(bob, "team")
    assert await bob.js("return Notification.permission;") == "granted"
    await bob.click("#desktop-notify")
    await bob.wait_js("document.getElementById('desktop-notify').getAttribute('aria-pressed') === 'true'",
                      "notifications did not turn on")

    bob_py = await testing.connect(chat_server.ws_url, authmethods=["ticket"], authid="bob", secret=PASSWORD)
    assert (await levels_of(bob_py))["team"] == "all"
    assert await bob.js("return document.getElementById('notify-level').value;") == "all"
    await bob.js("const s = document.getElementById('notify-level'); s.focus();")
    await bob.keys(Keys.ARROW_DOWN)   # All messages -> Mentions, as a keyboard user changes a <select>
    await bob.wait_js("document.getElementById('notify-level').value === 'mentions'", "the menu did not change")
    await wait_level(bob_py, "team", "mentions")

    await bob.js(HIDE_TAB)
    await ann.call("chat.message.send", "team", "plain words for the room")
    await ann.call("chat.message.send", "team", "@bob have a look")
    await bob.wait_js("window.__shown.length >= 1", "no notification came")
    dm = await ann.call("chat.dm.open", "bob")
    await bob.wait_js("!!document.querySelector(`#dm-list li[data-room-id='${arguments[0]}']`)",
                      "the new DM is not listed", dm["id"])
    await ann.call("chat.message.send", dm["id"], "a direct word")
    await bob.wait_js("window.__shown.length >= 2", "the DM did not notify")
    assert await bob.js(SHOWN) == [["ann mentioned you in team", "@bob have a look"],
                                   ["ann (direct message)", "a direct word"]]

    await bob.js("const s = document.getElementById('notify-level'); s.value = 'none';"
                 "s.dispatchEvent(new Event('change'));")
    await wait_level(bob_py, "team", "none")
    await ann.call("chat.message.send", "team", "@bob are you there?")
    await ann.call("chat.message.send", dm["id"], "the last word")
    await bob.wait_js("window.__shown.length >= 3", "the DM after the quiet mention did not notify")
    assert [body for _, body in await bob.js(SHOWN)] == ["@bob have a look", "a direct word", "the last word"]

    await bob.js("window.__shown[0].onclick();")
    await wait_room_open(bob, "team")
    bob_py.leave()
    ann.leave()
    cid.leave()


async def wait_level(client, room_id, level, timeout=10.0):
    """Poll chat.room.list until ``room_id``'s level is ``level``, with a deadline."""
    from twisted.internet import reactor, task

    deadline = reactor.seconds() + timeout
    while (await levels_of(client)).get(room_id) != level:
        if reactor.seconds() > deadline:
            raise AssertionError(f"chat.room.list never showed {room_id} at {level}")
        await task.deferLater(reactor, 0.05, lambda: None)


@pytest_twisted.ensureDeferred
async def test_group_dm_from_the_new_group_dialog(chat_server, browsers):
    """Ann starts a group with Bob and Cid from "New group" (axe-clean); it opens for her, appears in Bob's
    direct messages labelled with the others, and in Cid's room list as a DM."""
    cid = await python_client(chat_server, "cid")
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(bob, chat_server, "bob")
    await register(ann, chat_server, "ann")
    await ann.click("#new-group-button")
    await ann.wait_js("document.getElementById('group-dialog').open", "the dialog did not open")
    assert (await ann.active_element())[1] == "group-usernames"
    if AXE.exists():
        assert await axe_violations(ann) == []
    await ann.keys("bob", Keys.ENTER)
    await ann.wait_text("#group-dialog .dialog-status", "at least 2")
    await ann.fill("#group-usernames", "bob, @cid")
    await ann.keys(Keys.ENTER)
    await ann.wait_js("!document.getElementById('group-dialog').open", "the dialog stayed open")
    room_id = await ann.wait_js("document.querySelector('#dm-list li.active')?.dataset.roomId", "no group opened")
    assert room_id.startswith("dm_g")
    await wait_room_open(ann, room_id)
    assert await ann.texts("#room-title") == ["bob, cid"]

    await bob.wait_text(f"#dm-list li[data-room-id='{room_id}']", "ann, cid")
    rooms = {room["id"]: room for room in await cid.call("chat.room.list")}
    assert rooms[room_id]["dm"] is True
    await open_room(bob, room_id)
    await bob.fill("#composer-input", "hi both")
    await bob.keys(Keys.ENTER)
    await ann.wait_text("#message-list .message .text", "hi both")
    cid.leave()
