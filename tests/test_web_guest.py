"""
What a guest sees right after signing in, in headless Chromium: the lobby open with its history, no
control that needs an account, and ids like ``guest_1a2b3c4d`` or long nicks kept on one line.
"""
import pytest
import pytest_twisted

from browser import ARTIFACTS, PHONE, browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from test_web_chat import (  # noqa: F401 (fixtures)
    chat_server, create_room, join_as_guest, my_user_id, python_client, register, wait_room_open,
)

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]

LONG_NICK = "Maximilian_Alexander_Longnameson"  # 32 characters, no space to wrap at

# How many lines the text of each element matching arguments[0] takes: one per distinct top of its text's boxes.
LINES_JS = """
const lines = (element) => {
  const tops = new Set();
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) if (rect.width > 0) tops.add(Math.round(rect.top));
  }
  return tops.size;
};
return [...document.querySelectorAll(arguments[0])].map((e) => [e.textContent, lines(e)]);
"""

# Visible controls that cannot be used (a disabled input or button shown anyway).
DISABLED_SHOWN_JS = """
return [...document.querySelectorAll('#chat-view input, #chat-view button, #chat-view textarea')]
  .filter((e) => e.disabled && e.offsetParent !== null).map((e) => e.id || e.outerHTML.slice(0, 80));
"""


async def displayed(browser, element_id):
    """Whether the element takes up room on the page (not display:none itself or through a parent)."""
    return await browser.js("const e = document.getElementById(arguments[0]);"
                            "return e.offsetParent !== null && getComputedStyle(e).display !== 'none';", element_id)


async def line_counts(browser, css):
    return await browser.js(LINES_JS, css)


@pytest_twisted.ensureDeferred
async def test_guest_lands_in_the_lobby_with_its_history_and_no_account_controls(chat_server, browsers):
    """A guest signing in sees the lobby open with what was said there, and no new-room form or disabled control."""
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.join", "lobby")
    await ann.call("chat.message.send", "lobby", "welcome to the lobby, everyone")

    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await wait_room_open(bob, "lobby")
    await bob.wait_text("#message-list .message .text", "welcome to the lobby, everyone")
    assert await bob.wait_text("#member-list li", "ann")

    assert not await displayed(bob, "create-room-form")
    assert not await bob.is_visible("#new-room-id")
    assert await bob.js(DISABLED_SHOWN_JS) == []
    assert "create" not in (await bob.js("return document.getElementById('no-room').textContent;")).lower()
    await bob.screenshot(ARTIFACTS / "guest-lobby.png")
    ann.leave()


@pytest_twisted.ensureDeferred
async def test_registered_user_lands_in_the_lobby_and_may_create_rooms(chat_server, browsers):
    """A new account with no last room lands in the lobby too, and keeps the new-room form, which works."""
    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await wait_room_open(ann, "lobby")
    assert await displayed(ann, "create-room-form")
    assert await ann.js(DISABLED_SHOWN_JS) == []
    await create_room(ann, "team")


@pytest_twisted.ensureDeferred
async def test_guest_comes_back_to_the_room_it_had_open(chat_server, browsers):
    """The lobby is only where a guest starts: after a reload the room it had open is open again."""
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.create", "team")
    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await wait_room_open(bob, "lobby")
    await bob.click("li[data-room-id='team'] button")
    await wait_room_open(bob, "team")
    await bob.reload()
    await wait_room_open(bob, "team")
    ann.leave()


@pytest_twisted.ensureDeferred
async def test_guest_ids_and_long_nicks_stay_on_one_line(chat_server, browsers):
    """A guest id and a 32-character nick are not broken across lines in the member list, top bar, messages,
    and a DM's label; each side of a DM with a guest is labelled with the other person."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await join_as_guest(bob, chat_server, LONG_NICK)
    await wait_room_open(bob, "lobby")
    guest_id = await my_user_id(bob)
    assert guest_id.startswith("guest_")
    await bob.fill("#composer-input", "hello from a long name")
    await bob.press_enter("#composer-input")
    await ann.wait_text("#message-list .message .text", "hello from a long name")
    await ann.wait_visible(f"#member-list li[data-user='{guest_id}']")

    for browser in (ann, bob):
        member = f"#member-list li[data-user='{guest_id}']"
        for css in (f"{member} .member-id", f"{member} .member-nick", "#me", "#message-list .message .author"):
            counts = await line_counts(browser, css)
            assert counts and all(lines == 1 for _, lines in counts), (browser.name, css, counts)
        assert await browser.js("return document.querySelector(arguments[0]).title.includes(arguments[1]);",
                                f"{member} .member-name", guest_id)
    await ann.screenshot(ARTIFACTS / "guest-long-names.png")

    # A DM with the guest is labelled with its id, in the sidebar and the room header, also on a phone.
    await ann.click(f"#member-list li[data-user='{guest_id}'] button[data-action=dm]")
    await ann.wait_visible("#dm-list li.active")
    dm_room = await ann.js("return document.querySelector('#dm-list li.active').dataset.roomId;")
    await wait_room_open(ann, dm_room)
    await ann.set_size(*PHONE)
    await ann.click("#toggle-sidebar")
    for css in ("#room-title", f"li[data-room-id='{dm_room}'] .room-label"):
        await ann.wait_text(css, guest_id)
        counts = await line_counts(ann, css)
        assert counts and all(lines == 1 for _, lines in counts), (css, counts)
    await ann.screenshot(ARTIFACTS / "guest-dm-phone.png")
    await bob.wait_visible(f"#dm-list li[data-room-id='{dm_room}']")
    assert await bob.texts("#dm-list .room-name") == ["ann"]
