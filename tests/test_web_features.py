"""
The page's chat features end to end in headless Chromium: formatting that hostile text cannot turn into
markup, mentions (highlight, counts, @-completion), search that opens the room at the hit, reactions,
edits and deletes caught up after a reconnect, read receipts, keyboard-only use, and an axe-core check.
"""
import json
import pathlib

import pytest
import pytest_twisted
from selenium.webdriver.common.keys import Keys

from browser import browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from test_web_chat import (  # noqa: F401 (fixtures)
    CONNECTED, PASSWORD, RECONNECTING, ChatServer, busy_chat_server, chat_server, create_room, join_as_guest,
    message_texts_js, open_room, python_client, register, say, wait_room_open,
)
from wampchat import testing

AXE = pathlib.Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))]


async def message_item_js(browser, text_part, expression):
    """Evaluate ``expression`` (a function body of ``item``) on the message whose text contains ``text_part``."""
    return await browser.js(
        "const item = [...document.querySelectorAll('#message-list li.message')]"
        ".find(li => li.querySelector('.text').textContent.includes(arguments[0]));"
        f"return item ? (item => {{ {expression} }})(item) : 'no such message';", text_part)


# ------------------------------------------------------------ formatting

HOSTILE = [
    "**bold** and *italic* and _also italic_ and `code`",
    "**bold with *italic* inside**",
    "```js\n<b>not bold</b> **nor this** https://example.com/in-code\n```",
    "[x](javascript:alert(1)) and [y](https://example.org/ok)",
    '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>',
    "see https://example.com/path?q=1&r=2. then javascript:alert(3) or data:text/html,<b>x</b>",
    'quote https://example.com/a"onmouseover="window.__pwned=4 end',
    "***x*** **unclosed *never _closed `tick",
    "`**not bold** https://example.com/not-a-link`",
    "(see https://en.wikipedia.org/wiki/Foo_(bar)) and HTTPS://EXAMPLE.NET/Up",
    "*" * 3000,
    "_" * 1500 + "*_" * 700,
]


@pytest_twisted.ensureDeferred
async def test_formatting_is_built_from_nodes_and_hostile_text_stays_text(chat_server, browsers):
    """Bold, italic, code, code blocks and http(s) links render as elements (links with noopener noreferrer);
    HTML, javascript: and data: links, unclosed and nested markers stay text, and nothing runs."""
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.create", "team")
    for text in HOSTILE:
        await ann.call("chat.message.send", "team", text)
    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await bob.wait_js("document.querySelectorAll('#message-list li.message').length === arguments[0]",
                      "not every message is shown", len(HOSTILE))

    first = await message_item_js(bob, "and also italic", "const t = item.querySelector('.text');"
                                  "return [...t.children].map(e => [e.tagName, e.textContent]);")
    assert first == [["STRONG", "bold"], ["EM", "italic"], ["EM", "also italic"], ["CODE", "code"]]
    nested = await message_item_js(bob, "bold with", "const s = item.querySelector('.text > strong');"
                                   "return [s.firstChild.textContent, s.querySelector('em').textContent];")
    assert nested == ["bold with ", "italic"]
    block = await message_item_js(bob, "not bold", "const t = item.querySelector('.text');"
                                  "return [t.children.length, t.querySelector('pre > code').textContent,"
                                  " t.querySelectorAll('b, strong, a').length];")
    assert block == [1, "<b>not bold</b> **nor this** https://example.com/in-code", 0]
    code_only = await message_item_js(bob, "not-a-link", "return [item.querySelector('.text').children.length,"
                                      " item.querySelector('.text > code').textContent];")
    assert code_only == [1, "**not bold** https://example.com/not-a-link"]
    plain = await message_item_js(bob, "unclosed", "const t = item.querySelector('.text');"
                                  "return [t.textContent, [...t.querySelectorAll('*')].map(e => e.tagName)];")
    assert plain == ["*x* **unclosed *never _closed `tick", ["STRONG"]]

    links = await bob.js("return [...document.querySelectorAll('#message-list a')].map(a =>"
                         " [a.getAttribute('href'), a.textContent, a.rel, a.target]);")
    assert links == [
        ["https://example.org/ok", "https://example.org/ok", "noopener noreferrer", "_blank"],
        ["https://example.com/path?q=1&r=2", "https://example.com/path?q=1&r=2", "noopener noreferrer", "_blank"],
        ["https://example.com/a", "https://example.com/a", "noopener noreferrer", "_blank"],
        ["https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)",
         "noopener noreferrer", "_blank"],
        ["https://example.net/Up", "HTTPS://EXAMPLE.NET/Up", "noopener noreferrer", "_blank"],
    ]
    assert await bob.js("return document.querySelectorAll('#message-list img, #message-list script,"
                        " #message-list b, #message-list [onerror], #message-list [onmouseover]').length;") == 0
    texts = await bob.js(f"return {message_texts_js()};")
    assert texts[3] == "[x](javascript:alert(1)) and [y](https://example.org/ok)"
    assert texts[4] == HOSTILE[4] and set(texts[10]) == {"*"}
    assert await bob.js("return window.__pwned === undefined;")


# ------------------------------------------------------------ mentions

@pytest_twisted.ensureDeferred
async def test_mentions_are_completed_highlighted_and_counted_apart(chat_server, browsers):
    """Ann types "@b" and picks Bob from the completion with the keyboard; Bob, in another room, sees the
    room's mention count apart from its unread count; opening it shows the message highlighted for him."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await register(bob, chat_server, "bob")
    await open_room(bob, "team")
    await open_room(bob, "lobby")
    await ann.wait_visible("#member-list li[data-user='bob']")

    await ann.fill("#composer-input", "look @b")
    await ann.wait_text("#mention-options [role=option]", "bob")
    assert await ann.js("return document.getElementById('composer-input').getAttribute('aria-activedescendant');") \
        == "mention-option-0"
    await ann.type("#composer-input", Keys.ENTER)
    await ann.wait_js("document.getElementById('mention-options').hidden", "the completion stayed open")
    assert await ann.js("return document.getElementById('composer-input').value;") == "look @bob "
    await ann.type("#composer-input", "here")
    await ann.press_enter("#composer-input")
    await ann.wait_text("#message-list .message.own .text", "look @bob here")
    await say(ann, "and a plain one")

    await bob.wait_text("li[data-room-id='team'] .unread", "2")
    await bob.wait_text("li[data-room-id='team'] .mention-count", "1")
    assert "mention" in await bob.js("return document.querySelector(\"li[data-room-id='team'] .mention-count\")"
                                     ".textContent;")
    assert await bob.js("return document.querySelector(\"li[data-room-id='lobby'] .mention-count\").hidden;")
    await open_room(bob, "team")
    await bob.wait_text("#message-list .message.mentions-me .text", "look @bob here")
    assert await bob.texts("#message-list .message.mentions-me .mention-name.me") == ["@bob"]
    assert await bob.texts("#message-list .message.mentions-me .mention-badge") == ["mentions you"]
    assert len(await bob.texts("#message-list .message.mentions-me")) == 1
    await bob.wait_js("document.querySelector(\"li[data-room-id='team'] .mention-count\").hidden",
                      "the mention count stayed after reading")
    assert await ann.texts("#message-list .message.mentions-me") == []


# ------------------------------------------------------------ search

@pytest_twisted.ensureDeferred
async def test_search_hits_open_the_room_at_the_message_and_private_rooms_stay_hidden(busy_chat_server, browsers):
    """Bob searches from the keyboard; the hit far back in a long room opens the room scrolled to it and
    focused; a private room's message with the same word is never among his hits."""
    ann = await python_client(busy_chat_server, "ann")
    await ann.call("chat.room.create", "archive", title="Archive")
    await ann.call("chat.room.create", "vault", private=True)
    await ann.call("chat.message.send", "vault", "the needle of the vault")
    for n in range(130):
        await ann.call("chat.message.send", "archive", "the needle is here" if n == 4 else f"filler {n:03d}")
    bob = await browsers("bob")
    await join_as_guest(bob, busy_chat_server, "Bob")
    await bob.fill("#search-input", "needle")
    await bob.press_enter("#search-input")
    await bob.wait_text("#search-status", "1 result")
    assert await bob.texts("#search-hits .hit-text") == ["the needle is here"]
    assert await bob.texts("#search-hits .hit-room") == ["Archive"]

    await bob.type("#search-hits button.search-hit", Keys.ENTER)
    await wait_room_open(bob, "archive")
    await bob.wait_js("document.activeElement && document.activeElement.classList.contains('jump-target')",
                      "the hit is not focused")
    assert await bob.js("return document.activeElement.querySelector('.text').textContent;") == "the needle is here"
    assert await bob.js("const r = document.activeElement.getBoundingClientRect(),"
                        " m = document.getElementById('messages').getBoundingClientRect();"
                        "return r.top >= m.top && r.bottom <= m.bottom;")
    shown = await bob.js(f"return {message_texts_js()};")
    assert shown[-1] == "filler 129" and shown.count("the needle is here") == 1 and len(shown) > 125

    await bob.fill("#search-input", '"never closed')
    await bob.press_enter("#search-input")
    await bob.wait_text("#search-status", "Search failed")
    ann.leave()


# ------------------------------------------------------------ reactions

@pytest_twisted.ensureDeferred
async def test_reactions_are_toggled_by_click_or_keyboard_and_seen_live(chat_server, browsers):
    """Bob adds 👍 from the picker with the keyboard, Ann adds hers by clicking his; each sees the count
    live and which ones are theirs (aria-pressed); clicking again takes it back."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await register(bob, chat_server, "bob")
    await open_room(bob, "team")
    await say(ann, "react please")
    await bob.wait_text("#message-list .message .text", "react please")

    await bob.hover("#message-list .message")   # the actions toolbar shows on hover (and on focus)
    await bob.type("#message-list .message button[data-action=react-menu]", Keys.ENTER)
    await bob.wait_visible("#message-list .reaction-picker button")
    assert (await bob.active_element())[3] == "react-pick"
    await bob.keys(Keys.ENTER)
    chip = "#message-list .message button.reaction[data-emoji='👍']"
    await bob.wait_text(f"{chip} .count", "1")
    assert await bob.js(f"return document.querySelector(\"{chip}\").getAttribute('aria-pressed');") == "true"
    assert not await bob.is_visible("#message-list .reaction-picker")
    await ann.wait_text(f"{chip} .count", "1")
    assert await ann.js(f"return document.querySelector(\"{chip}\").getAttribute('aria-pressed');") == "false"

    await ann.click(chip)
    await ann.wait_js(f"document.querySelector(\"{chip}\").getAttribute('aria-pressed') === 'true'",
                      "ann's reaction is not shown as hers")
    await bob.wait_text(f"{chip} .count", "2")
    await bob.click(chip)
    await ann.wait_text(f"{chip} .count", "1")
    await bob.wait_js(f"document.querySelector(\"{chip}\").getAttribute('aria-pressed') === 'false'",
                      "bob's reaction stayed")
    assert await bob.js(f"return document.querySelector(\"{chip}\").title;") == "ann"


# ------------------------------------------------------------ offline catch-up and read receipts

@pytest_twisted.ensureDeferred
async def test_edits_deletes_and_reactions_made_while_offline_show_after_the_reconnect(chat_server, browsers):
    """While Bob's page is cut off, Ann edits, deletes and reacts through another server on the same
    database; after the reconnect Bob's page shows all three, with every message once."""
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.create", "team")
    sent = [await ann.call("chat.message.send", "team", f"message {n}") for n in range(3)]
    bob = await browsers("bob")
    await join_as_guest(bob, chat_server, "Bob")
    await open_room(bob, "team")
    await bob.wait_text("#message-list .message .text", "message 2")
    ann.leave()

    await chat_server.stop()
    await bob.wait_js(RECONNECTING, "the page did not notice the server went away")
    meanwhile = ChatServer(chat_server.tmp_path, chat_server.db)
    await meanwhile.start()
    ann = await testing.connect(meanwhile.ws_url, authmethods=["ticket"], authid="ann", secret=PASSWORD)
    await ann.call("chat.message.edit", "team", sent[0]["id"], "message 0, edited while you were away")
    await ann.call("chat.message.delete", "team", sent[1]["id"])
    await ann.call("chat.message.react", "team", sent[2]["id"], "🎉")
    ann.leave()
    await meanwhile.stop()

    await chat_server.start()
    await bob.wait_js(CONNECTED, "the page did not reconnect", timeout=30)
    await bob.wait_text("#message-list .message .text", "message 0, edited while you were away")
    await bob.wait_text("#message-list .message.deleted .text", "message deleted")
    await bob.wait_text("#message-list .message button.reaction .count", "1")
    assert await bob.js(f"return {message_texts_js()};") == [
        "message 0, edited while you were away", "message deleted", "message 2"]
    assert await message_item_js(bob, "message 2", "return item.querySelector('.reaction .emoji').textContent;") == "🎉"


@pytest_twisted.ensureDeferred
async def test_read_receipts_follow_the_reader_in_a_small_room(chat_server, browsers):
    """In a DM Ann sees "Seen by bob" under her newest message Bob has read, moving as he reads on."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await open_room(ann, "lobby")
    await register(bob, chat_server, "bob")
    await open_room(bob, "lobby")
    await ann.click("#member-list li[data-user='bob'] button[data-action=dm]")
    await wait_room_open(ann, "dm_ann_bob")
    await say(ann, "first words")
    await open_room(bob, "dm_ann_bob")
    await bob.wait_text("#message-list .message .text", "first words")
    await ann.wait_text("#message-list .message .seen", "Seen by bob")
    assert await message_item_js(ann, "first words", "return item.querySelector('.seen').textContent;") \
        == "Seen by bob"

    await open_room(bob, "lobby")
    await say(ann, "second words")
    await bob.wait_text("li[data-room-id='dm_ann_bob'] .unread", "1")
    assert await ann.texts("#message-list .seen") == ["Seen by bob"]
    assert await message_item_js(ann, "first words", "return !!item.querySelector('.seen');")
    await open_room(bob, "dm_ann_bob")
    await ann.wait_js("(() => { const s = [...document.querySelectorAll('#message-list .seen')];"
                      " return s.length === 1 && s[0].closest('li').textContent.includes('second words'); })()",
                      "the receipt did not move to the newest message")
    assert await bob.texts("#message-list .seen") == []  # Ann read nothing past her own messages: no receipt


# ------------------------------------------------------------ keyboard and accessibility

async def axe_violations(browser):
    """Serious and critical axe-core violations on the page as it is now: [(rule, [targets])]."""
    if not await browser.js("return typeof window.axe !== 'undefined';"):
        await browser.js(AXE.read_text(encoding="utf-8"))
    found = await browser.js_async(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => [v.id, v.nodes.map(n => n.target.join(' ')).slice(0, 5)])))).catch(e => done(String(e)));",
        timeout=60)
    return json.loads(found)


async def tab_to(browser, predicate_js, what, limit=60, backwards=False):
    """Press Tab (or Shift+Tab) until the focused element satisfies ``predicate_js`` (an expression of ``e``)."""
    for _ in range(limit):
        if await browser.js(f"const e = document.activeElement; return !!(e && ({predicate_js}));"):
            return
        await browser.keys(Keys.TAB, shift=backwards)
    raise AssertionError(f"{browser.name}: Tab never reached {what}")


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is missing: run `make node-test-deps` (npm ci in tests/js)")
@pytest_twisted.ensureDeferred
async def test_keyboard_only_chat_with_no_serious_accessibility_violations(chat_server, browsers):
    """A guest signs in, opens a room, sends, reacts, completes a mention and searches with the keyboard
    alone, and axe-core finds no serious or critical violation on any of those screens."""
    ann = await python_client(chat_server, "ann")
    await ann.call("chat.room.join", "lobby")
    await ann.call("chat.message.send", "lobby", "**Welcome** to the _lobby_, see https://example.com and `code`")
    bob = await browsers("bob")
    await bob.open(chat_server.url)
    await bob.wait_visible("#guest-nick")
    assert await axe_violations(bob) == []

    await bob.type("#guest-nick", "Bob", Keys.ENTER)
    await bob.wait_js(CONNECTED, "bob never got connected")
    await tab_to(bob, "e.closest && e.closest(\"li[data-room-id='lobby']\")", "the lobby in the room list")
    await bob.keys(Keys.ENTER)
    await wait_room_open(bob, "lobby")
    await bob.wait_text("#message-list .message .text", "Welcome")
    await tab_to(bob, "e.id === 'composer-input'", "the composer")
    await bob.keys("hello from the keyboard", Keys.ENTER)
    await bob.wait_text("#message-list .message.own .text", "hello from the keyboard")

    await bob.keys("@an")
    await bob.wait_visible("#mention-options [role=option]")
    assert await axe_violations(bob) == []
    await bob.keys(Keys.TAB, "hi", Keys.ENTER)
    await bob.wait_text("#message-list .message.own .text", "@ann hi")

    await tab_to(bob, "e.dataset.action === 'react-menu' && e.closest('li').textContent.includes('Welcome')",
                 "the first message's reaction button", backwards=True)
    await bob.keys(Keys.ENTER)
    await bob.wait_visible("#message-list .reaction-picker")
    assert await axe_violations(bob) == []
    await bob.keys(Keys.TAB, Keys.ENTER)
    await bob.wait_text("#message-list .message button.reaction[data-emoji='❤️'] .count", "1")
    assert (await bob.active_element())[3] == "react-menu"

    await tab_to(bob, "e.id === 'search-input'", "the search box", limit=120)
    await bob.keys("welcome", Keys.ENTER)
    await bob.wait_text("#search-status", "1 result")
    assert await axe_violations(bob) == []
    await tab_to(bob, "e.classList.contains('search-hit')", "the search hit", limit=5)
    await bob.keys(Keys.ENTER)
    await bob.wait_js("document.activeElement.classList.contains('jump-target')", "the hit did not get the focus")
    ann.leave()
