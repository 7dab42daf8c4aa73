"""
The page's message features (issue 29) end to end in headless Chromium against the real server: files
attached from the composer (an image shown as a thumbnail that opens a larger view, another file as a
chip whose link downloads it), replies with their quote, the thread panel with live reply counts, and
pins (the owner pins, another reader's pins panel lists it, a member gets no Pin action). Each flow
leaves a screenshot in test-artifacts/, and the new panels and dialogs are checked with axe-core.
"""
import io

import pytest
import pytest_twisted
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from twisted.internet import threads

from browser import ARTIFACTS, browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from test_web_chat import chat_server, say  # noqa: F401 (a fixture)
from test_web_features import AXE, axe_violations
from test_web_moderation import owner_ann_and_bob_in_team

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing())),
              pytest.mark.skipif(not AXE.exists(), reason="axe-core is missing: run `make node-test-deps`")]

SHOTS = ARTIFACTS / "rich"


def png_bytes(width=64, height=48):
    """A small red PNG, made here (Pillow is a server dependency)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def attach(browser, path):
    """Give the composer's file input a file, as the file picker does."""
    def set_file():
        browser.driver.find_element(By.ID, "attach-input").send_keys(str(path))
    await threads.deferToThread(set_file)


async def uploaded(browser, name):
    """Wait until the composer's chip for ``name`` has finished uploading."""
    await browser.wait_js(
        "[...document.querySelectorAll('#attachment-list li.attachment.done .file-name')]"
        ".some(e => e.textContent === arguments[0])", f"{name} never finished uploading", name)


MESSAGE_JS = ("const item = [...document.querySelectorAll('#message-list li.message')]"
              ".find(li => li.querySelector('.text').textContent.includes(arguments[0]));")


async def press_in_message(browser, text_part, selector):
    """Focus a control of the message whose text contains ``text_part`` and press Enter, as a keyboard user."""
    await browser.wait_js(f"(() => {{ {MESSAGE_JS} return !!(item && item.querySelector(arguments[1])); }})()",
                          f"no {selector} on the message {text_part!r}", text_part, selector)
    await browser.js(MESSAGE_JS + "item.querySelector(arguments[1]).focus();", text_part, selector)
    await browser.keys(Keys.ENTER)


async def in_message(browser, text_part, expression, message):
    """Wait until ``expression`` (of ``item``, the message containing ``text_part``) is truthy; give its value."""
    return await browser.wait_js(
        f"(() => {{ {MESSAGE_JS} return item ? (item => {{ return {expression}; }})(item) : null; }})()",
        message, text_part)


# ------------------------------------------------------------ files

@pytest_twisted.ensureDeferred
async def test_an_image_shows_as_a_thumbnail_that_opens_a_larger_view(chat_server, browsers, tmp_path):
    """Ann attaches a PNG from the composer (a chip with name, size and a remove button while it
    uploads) and sends it with a caption; Bob's page shows the thumbnail, Enter on it opens the image in
    a dialog (axe-clean), and Escape gives the focus back to the thumbnail."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    picture = tmp_path / "red-square.png"
    picture.write_bytes(png_bytes())
    await attach(ann, picture)
    await uploaded(ann, "red-square.png")
    chip = await ann.js("const li = document.querySelector('#attachment-list li');"
                        "return [li.querySelector('.file-size').textContent,"
                        " li.querySelector('button').getAttribute('aria-label')];")
    assert chip[1] == "Remove red-square.png" and "bytes" in chip[0]
    await ann.screenshot(SHOTS / "attach-chip.png")
    await say(ann, "look at this")
    assert await ann.js("return document.getElementById('attachment-list').hidden;")

    size = await in_message(bob, "look at this",
                            "(img => img && img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null)"
                            "(item.querySelector('button.file-thumb img'))", "Bob never saw the thumbnail")
    assert size == [64, 48]
    await press_in_message(bob, "look at this", "button.file-thumb")
    await bob.wait_js("document.getElementById('image-dialog').open"
                      " && document.getElementById('image-full').complete"
                      " && document.getElementById('image-full').naturalWidth === 64", "the larger view did not open")
    assert await bob.js("return document.getElementById('image-heading').textContent;") == "red-square.png"
    assert await axe_violations(bob) == []
    await bob.screenshot(SHOTS / "image-dialog.png")
    await bob.keys(Keys.ESCAPE)
    await bob.wait_js("!document.getElementById('image-dialog').open", "Escape did not close the image")
    assert (await bob.active_element())[2] == "file-thumb"
    await bob.screenshot(SHOTS / "image-thumbnail.png")


@pytest_twisted.ensureDeferred
async def test_another_file_shows_as_a_chip_whose_link_downloads_it(chat_server, browsers, tmp_path):
    """A text file sent without any text shows, for Bob, as a chip with its name and size; its link is a
    signed URL that serves the bytes as an attachment."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    notes = tmp_path / "notes.txt"
    notes.write_text("the minutes of the meeting\n", encoding="utf-8")
    await attach(ann, notes)
    await uploaded(ann, "notes.txt")
    await ann.type("#composer-input", Keys.ENTER)
    await ann.wait_js("document.querySelectorAll('#message-list li.message.own a.file-chip').length === 1",
                      "Ann's file message did not arrive")

    href = await bob.wait_js("(a => a && a.href)(document.querySelector('#message-list a.file-chip'))",
                             "Bob's file chip has no link")
    chip = await bob.texts("#message-list a.file-chip")
    assert chip == ["notes.txt27 bytes"]
    got = await bob.js_async(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(async r => done([r.status, r.headers.get('content-disposition'), await r.text()]))"
        ".catch(e => done(String(e)));", href)
    assert got[0] == 200 and got[1].startswith("attachment") and got[2] == "the minutes of the meeting\n"
    assert await bob.js("return document.querySelector('#message-list a.file-chip').getAttribute('download');") == "notes.txt"
    await bob.screenshot(SHOTS / "file-chip.png")


# ------------------------------------------------------------ replies and threads

@pytest_twisted.ensureDeferred
async def test_a_reply_shows_its_quote_and_the_thread_panel_counts_live(chat_server, browsers):
    """Bob replies to Ann's message: the composer says whom he answers, and Ann sees the quote above his
    text (a click on it shows the quoted message). Ann opens the thread from "1 reply" (the panel takes
    the focus, axe-clean), replies inside it, and Bob's "2 replies" follows live; Escape closes the
    panel and gives the focus back."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    await say(ann, "what is for lunch?")
    await press_in_message(bob, "what is for lunch?", "button[data-action=reply]")
    await bob.wait_text("#reply-text", "Replying to ann: what is for lunch?")
    assert (await bob.active_element())[1] == "composer-input"
    await bob.fill("#composer-input", "pizza, I think")
    await bob.screenshot(SHOTS / "reply-composer.png")
    await bob.press_enter("#composer-input")
    await bob.wait_js("document.getElementById('reply-bar').hidden", "the reply bar stayed after sending")

    quote = await in_message(ann, "pizza, I think", "item.querySelector('.reply-quote') && item.querySelector('.reply-quote').textContent",
                             "Ann never saw the quote")
    assert quote == "↪ann: what is for lunch?"
    await press_in_message(ann, "pizza, I think", "button.reply-quote")
    await ann.wait_js("document.activeElement.classList.contains('jump-target')", "the quote did not show its message")
    await ann.screenshot(SHOTS / "reply-quote.png")

    await in_message(ann, "what is for lunch?", "item.querySelector('.thread-link')?.textContent === '1 reply'",
                     "Ann's message never said 1 reply")
    await press_in_message(ann, "what is for lunch?", "button.thread-link")
    await ann.wait_js("!document.getElementById('thread-panel').hidden"
                      " && document.querySelectorAll('#thread-list li').length === 2", "the thread panel did not open")
    assert (await ann.active_element())[1] == "thread-heading"
    assert await ann.texts("#thread-list li .text") == ["what is for lunch?", "pizza, I think"]
    assert await axe_violations(ann) == []
    await ann.fill("#thread-input", "and a salad")
    await ann.press_enter("#thread-input")
    await ann.wait_js("document.querySelectorAll('#thread-list li').length === 3", "the reply did not join the panel")
    await in_message(bob, "what is for lunch?", "item.querySelector('.thread-link')?.textContent === '2 replies'",
                     "Bob's count never became 2 replies")
    await in_message(bob, "and a salad", "item.querySelector('.reply-quote')", "Bob never saw the reply in the thread")
    await ann.screenshot(SHOTS / "thread-panel.png")
    await bob.screenshot(SHOTS / "thread-count.png")
    await ann.keys(Keys.ESCAPE)
    await ann.wait_js("document.getElementById('thread-panel').hidden", "Escape did not close the thread")
    assert (await ann.active_element())[2] == "thread-link"


# ------------------------------------------------------------ pins

@pytest_twisted.ensureDeferred
async def test_the_owner_pins_a_message_and_the_other_reader_sees_it_in_the_pins_panel(chat_server, browsers):
    """Ann, the owner, pins a message: Bob's header count becomes 1 live and his pins panel (axe-clean)
    lists it; Bob, a member of a public room, is offered no Pin action. Ann unpins it from her panel and
    Bob's count goes back to 0."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    await say(ann, "the meeting is at ten")
    await bob.wait_text("#message-list .message .text", "the meeting is at ten")
    await press_in_message(ann, "the meeting is at ten", "button[data-action=pin]")
    await in_message(ann, "the meeting is at ten", "item.querySelector('[data-action=pin]')?.textContent === 'Unpin'",
                     "Ann's button did not become Unpin")
    await bob.wait_text("#pin-count", "1")
    await in_message(bob, "the meeting is at ten", "item.querySelector('.pinned-badge')", "Bob's message has no pinned mark")
    assert await bob.js("return document.querySelectorAll('#message-list [data-action=pin]').length;") == 0

    await bob.type("#pins-button", Keys.ENTER)
    await bob.wait_text("#pins-list li .text", "the meeting is at ten")
    assert (await bob.active_element())[1] == "pins-heading"
    assert await bob.js("return document.querySelectorAll('#pins-list [data-action=unpin]').length;") == 0
    assert await axe_violations(bob) == []
    await bob.screenshot(SHOTS / "pins-panel.png")

    await ann.click("#pins-button")
    await ann.wait_text("#pins-list li .text", "the meeting is at ten")
    await ann.click("#pins-list [data-action=unpin]")
    await bob.wait_text("#pin-count", "0")
    await bob.wait_text("#pins-status", "Nothing is pinned")
    await bob.keys(Keys.ESCAPE)
    await bob.wait_js("document.getElementById('pins-panel').hidden", "Escape did not close the pins panel")
    assert (await bob.active_element())[1] == "pins-button"


# ------------------------------------------------------------ with the look of issue 29 (grouping, toolbar, dark mode)

DARK = {"media": "", "features": [{"name": "prefers-color-scheme", "value": "dark"}]}
SHOWN = "(e => !!e && e.getBoundingClientRect().width > 1 && getComputedStyle(e).visibility !== 'hidden')"


@pytest_twisted.ensureDeferred
async def test_a_grouped_reply_keeps_its_quote_and_files_and_its_toolbar_offers_reply_and_thread(
        chat_server, browsers, tmp_path):
    """Ann replies to her own message from its hover toolbar, with a file: for Bob the reply is grouped
    under her first message, yet its quote (above the text) and its file chip (in .message-extras) show.
    Bob's toolbar on it offers Reply and Thread but no Pin; Thread opens the chain. In dark mode the
    chip and the quote take their dark colours and the page, panel open, is axe-clean."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    await say(ann, "the agenda follows")
    await ann.hover("#message-list .message.own")
    await ann.click("#message-list .message.own .actions [data-action=reply]")
    await ann.wait_text("#reply-text", "Replying to ann: the agenda follows")
    agenda = tmp_path / "agenda.txt"
    agenda.write_text("1. lunch\n", encoding="utf-8")
    await attach(ann, agenda)
    await uploaded(ann, "agenda.txt")
    await say(ann, "here it is")

    await in_message(bob, "here it is", "item.querySelector('a.file-chip')", "Bob never saw the reply's file")
    parts = await in_message(
        bob, "here it is",
        f"[item.classList.contains('grouped'), {SHOWN}(item.querySelector('.meta .author')),"
        f" {SHOWN}(item.querySelector('.body > .reply-quote')), item.querySelector('.reply-quote').textContent,"
        f" {SHOWN}(item.querySelector('.message-extras a.file-chip'))]", "no reply")
    assert parts == [True, False, True, "↪ann: the agenda follows", True]

    await bob.hover("#message-list .message.grouped")
    labels = await in_message(bob, "here it is", "[...item.querySelectorAll('.actions button')]"
                              ".map(b => b.getAttribute('aria-label') || b.textContent)", "no toolbar")
    assert labels == ["Add a reaction", "Reply", "Thread", "Report"]
    await bob.click("#message-list .message.grouped .actions [data-action=thread]")
    await bob.wait_js("!document.getElementById('thread-panel').hidden"
                      " && document.querySelectorAll('#thread-list li').length === 2", "Thread did not open the chain")

    colours = ("return [getComputedStyle(document.querySelector('#message-list a.file-chip')).backgroundColor,"
               " getComputedStyle(document.querySelector('#message-list .reply-quote')).borderLeftColor];")
    light = await bob.js(colours)
    await bob.cdp("Emulation.setEmulatedMedia", DARK)
    await bob.wait_js("getComputedStyle(document.documentElement).backgroundColor === 'rgb(21, 24, 28)'",
                      "the page did not turn dark")
    dark = await bob.js(colours)
    assert light == ["rgb(241, 243, 245)", "rgb(138, 150, 163)"] and dark == ["rgb(38, 43, 49)", "rgb(107, 119, 131)"]
    assert await axe_violations(bob) == []
    await bob.screenshot(SHOTS / "grouped-reply-dark.png")
