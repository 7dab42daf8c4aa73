"""
The page's moderation and account features (API §8) end to end in headless Chromium against the real
server: the account dialog (display name, password, export, deletion), the end of a session the server
ends (with the reason on the sign-in screen), room roles and member actions, reports, the room settings
dialog and the moderation panel. Every new dialog is used from the keyboard and checked with axe-core.
"""
import json

import pytest
import pytest_twisted
from selenium.webdriver.common.keys import Keys
from twisted.internet import threads

from browser import browsers, chat_service_missing, requires_browser  # noqa: F401 (a fixture)
from test_web_chat import (  # noqa: F401 (fixtures)
    CONNECTED, PASSWORD, chat_server, create_room, join_as_guest, open_room, python_client, register, say,
    wait_room_open,
)
from helpers import poll_until
from test_web_features import AXE, axe_violations
from wampchat import testing
from wampchat.admin import add_user_command

pytestmark = [pytest.mark.browser, requires_browser,
              pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing())),
              pytest.mark.skipif(not AXE.exists(), reason="axe-core is missing: run `make node-test-deps`")]

NEW_PASSWORD = "a brand new passphrase"


async def open_account_dialog(browser):
    """Open the account dialog from the top bar with the keyboard; the focus lands inside it."""
    await browser.type("#account-button", Keys.ENTER)
    await browser.wait_js("document.getElementById('account-dialog').open", "the account dialog did not open")
    assert await browser.js("return document.getElementById('account-dialog').contains(document.activeElement);")


async def dialog_status(browser, dialog_id, text):
    await browser.wait_text(f"#{dialog_id} .dialog-status", text)


async def login_refused(server, username, password):
    """Whether a ticket login is refused now."""
    try:
        session = await testing.connect(server.ws_url, authmethods=["ticket"], authid=username, secret=password)
    except Exception:
        return True
    session.leave()
    return False


# ------------------------------------------------------------ account settings

@pytest_twisted.ensureDeferred
async def test_account_dialog_changes_the_display_name_and_is_keyboard_usable(chat_server, browsers):
    """Ann opens her account settings from the keyboard, axe finds nothing serious, she saves a new
    display name (the top bar shows it), Escape closes the dialog and the focus goes back to its button.
    A guest has no account button."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await open_account_dialog(ann)
    assert await axe_violations(ann) == []
    await ann.fill("#display-name-input", "Ann Example")
    await ann.press_enter("#display-name-input")
    await dialog_status(ann, "account-dialog", "Ann Example")
    await ann.wait_text("#me", "Ann Example (ann)")
    await ann.keys(Keys.ESCAPE)
    await ann.wait_js("!document.getElementById('account-dialog').open", "Escape did not close the dialog")
    assert (await ann.active_element())[1] == "account-button"

    await join_as_guest(bob, chat_server, "Bob")
    assert not await bob.is_visible("#account-button")


@pytest_twisted.ensureDeferred
async def test_changing_the_password_ends_the_other_browser_with_a_reason(chat_server, browsers):
    """Ann is signed in twice; changing her password in one browser sends the other to the sign-in screen
    saying why, while the first stays connected; the new password logs in, the old one does not."""
    ann, ann2 = await browsers("ann"), await browsers("ann2")
    await register(ann, chat_server, "ann")
    await ann2.open(chat_server.url)
    await ann2.fill("#account-username", "ann")
    await ann2.fill("#account-password", PASSWORD)
    await ann2.click("#login-button")
    await ann2.wait_js(CONNECTED, "ann's second browser never got connected")

    await open_account_dialog(ann)
    await ann.fill("#old-password", PASSWORD)
    await ann.fill("#new-password", NEW_PASSWORD)
    await ann.fill("#repeat-password", NEW_PASSWORD)
    await ann.press_enter("#repeat-password")
    await dialog_status(ann, "account-dialog", "Password changed")
    await ann2.wait_visible("#login-view")
    await ann2.wait_text("#login-error", "password was changed")
    assert not await ann2.is_visible("#chat-view")
    assert await ann.js(f"return {CONNECTED};")
    assert await login_refused(chat_server, "ann", PASSWORD)
    assert not await login_refused(chat_server, "ann", NEW_PASSWORD)


def whole_json(path):
    """The JSON document in ``path``, or None while the file is missing or not yet complete."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@pytest_twisted.ensureDeferred
async def test_export_offers_a_json_file_with_my_messages(chat_server, browsers, tmp_path):
    """The export pages through chat.user.export and offers one JSON file (a Blob link) that holds a
    message Ann wrote and names her."""
    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await open_room(ann, "lobby")
    await say(ann, "remember this sentence")
    await open_account_dialog(ann)
    await ann.click("#export-button")
    await dialog_status(ann, "account-dialog", "export is ready")
    link = await ann.js("const a = document.getElementById('export-link');"
                        "return [a.hidden, a.download, a.href.startsWith('blob:'), document.activeElement === a];")
    assert link == [False, "wampchat-ann.json", True, True]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await threads.deferToThread(ann.driver.execute_cdp_cmd, "Browser.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(downloads)})
    await ann.type("#export-link", Keys.ENTER)
    saved = downloads / "wampchat-ann.json"
    # Chromium may create the file before it has written all of it: wait for a whole JSON document
    await poll_until(lambda: whole_json(saved) is not None, timeout=15)
    exported = whole_json(saved)
    assert exported["user"]["user"] == "ann"
    assert "remember this sentence" in [m["text"] for m in exported["messages"]]


@pytest_twisted.ensureDeferred
async def test_deleting_the_account_needs_the_password_and_ends_on_the_sign_in_screen(chat_server, browsers):
    """A wrong password is refused in the dialog; the right one (with the box ticked) deletes the account:
    the page shows the sign-in screen saying so, the account cannot log in, and its message stays as
    "Deleted user" for another reader."""
    ann = await browsers("ann")
    await register(ann, chat_server, "ann")
    await open_room(ann, "lobby")
    await say(ann, "a message that outlives me")
    await open_account_dialog(ann)
    await ann.fill("#delete-password", "not my password")
    await ann.click("#delete-confirm")
    await ann.click("#delete-form button[type=submit]")
    await dialog_status(ann, "account-dialog", "password is wrong")
    assert await ann.js(f"return {CONNECTED};")

    await ann.fill("#delete-password", PASSWORD)
    await ann.click("#delete-form button[type=submit]")
    await ann.wait_visible("#login-view")
    await ann.wait_text("#login-error", "account was deleted")
    assert await login_refused(chat_server, "ann", PASSWORD)
    bob = await python_client(chat_server, "bob")
    history = await bob.call("chat.message.history", "lobby")
    assert [(m["nick"], m["text"]) for m in history["messages"]] == [("Deleted user", "a message that outlives me")]
    bob.leave()


# ------------------------------------------------------------ roles and member actions

async def owner_ann_and_bob_in_team(chat_server, browsers):
    """Ann registers and creates "team"; Bob registers and opens it; Ann sees him in the member list."""
    ann, bob = await browsers("ann"), await browsers("bob")
    await register(ann, chat_server, "ann")
    await create_room(ann, "team")
    await register(bob, chat_server, "bob")
    await open_room(bob, "team")
    await ann.wait_visible("#member-list li[data-user='bob']")
    return ann, bob


async def open_member_dialog(browser, user):
    """Open a member's actions from the member list with the keyboard; the focus lands inside."""
    await browser.type(f"#member-list li[data-user='{user}'] button[data-action=member-actions]", Keys.ENTER)
    await browser.wait_js("document.getElementById('member-dialog').open", "the member dialog did not open")
    assert await browser.js("return document.getElementById('member-dialog').contains(document.activeElement);")


@pytest_twisted.ensureDeferred
async def test_owner_makes_a_member_moderator_and_both_see_the_badge(chat_server, browsers):
    """The member list shows Ann as owner; she opens Bob's actions (axe-clean), makes him moderator, and
    both pages show his badge; Bob, now a moderator, gets the room's Settings but no actions on the owner;
    Escape closes the dialog and the focus goes back to Bob's actions button."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    await ann.wait_text("#member-list li[data-user='ann'] .role-badge", "owner")
    assert not await bob.is_visible("#member-list button[data-action=member-actions]")
    assert not await bob.is_visible("#room-settings-button")

    await open_member_dialog(ann, "bob")
    assert await axe_violations(ann) == []
    await ann.click("#make-moderator")
    await dialog_status(ann, "member-dialog", "bob is now a moderator")
    await ann.keys(Keys.ESCAPE)
    await ann.wait_js("!document.getElementById('member-dialog').open", "Escape did not close the dialog")
    assert (await ann.active_element())[3] == "member-actions"
    await ann.wait_text("#member-list li[data-user='bob'] .role-badge", "moderator")
    await bob.wait_text("#member-list li[data-user='bob'] .role-badge", "moderator")
    await bob.wait_visible("#room-settings-button")
    assert not await bob.is_visible("#member-list li[data-user='ann'] button[data-action=member-actions]")



@pytest_twisted.ensureDeferred
async def test_the_member_list_keeps_the_keyboard_focus_when_it_is_drawn_again(chat_server, browsers):
    """The member list is drawn anew at every member event; the control the keyboard focus was on (Bob's
    actions button) has it again afterwards, not the page's body."""
    ann, _ = await owner_ann_and_bob_in_team(chat_server, browsers)
    bob_actions = "#member-list li[data-user='bob'] button[data-action=member-actions]"
    await ann.js(f"document.querySelector(\"{bob_actions}\").focus();")
    assert (await ann.active_element())[3] == "member-actions"
    cy = await testing.connect(chat_server.ws_url, authextra={"nick": "Cy"})
    try:
        cy_id = (await cy.call("chat.user.me"))["user"]
        await cy.call("chat.room.join", "team")
        await ann.wait_visible(f"#member-list li[data-user='{cy_id}']")
        focused = await ann.js("const a = document.activeElement; "
                               "return [a.dataset.action || '', a.closest('li') ? a.closest('li').dataset.user : ''];")
        assert focused == ["member-actions", "bob"]
    finally:
        cy.leave()


# ------------------------------------------------------------ room settings

@pytest_twisted.ensureDeferred
async def test_owner_sets_the_topic_and_slow_mode_and_another_browser_sees_them_live(chat_server, browsers):
    """Ann opens the room settings (axe-clean, focus inside), sets a topic and slow mode; Bob's open page
    shows the topic and the slow-mode badge at once. Bob, a member, has no Settings button."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    assert not await bob.is_visible("#room-settings-button")
    await ann.type("#room-settings-button", Keys.ENTER)
    await ann.wait_js("document.getElementById('room-settings-dialog').open", "the settings did not open")
    assert await ann.js("return document.activeElement.id;") == "settings-title"
    assert await ann.is_visible("#settings-read-only")
    assert await axe_violations(ann) == []
    await ann.fill("#settings-topic", "Plans for the <b>week</b>")
    await ann.js("const s = document.getElementById('settings-slow-mode'); s.value = '30';")
    await ann.click("#room-settings-form button[type=submit]")
    await ann.wait_js("!document.getElementById('room-settings-dialog').open", "the settings stayed open")
    assert (await ann.active_element())[1] == "room-settings-button"
    await ann.wait_text("#room-topic", "Plans for the <b>week</b>")
    await bob.wait_text("#room-topic", "Plans for the <b>week</b>")
    await bob.wait_text("#room-slow", "30s")
    assert await bob.js("return document.querySelectorAll('#room-topic b').length;") == 0


# ------------------------------------------------------------ moderation panel

async def log_in(browser, server, username, password=PASSWORD):
    """Open the page and log in with an existing account; wait until connected."""
    await browser.open(server.url)
    await browser.fill("#account-username", username)
    await browser.fill("#account-password", password)
    await browser.click("#login-button")
    await browser.wait_js(CONNECTED, f"{username} never got connected")


async def open_moderation_panel(browser):
    await browser.type("#moderation-button", Keys.ENTER)
    await browser.wait_js("document.getElementById('moderation-dialog').open", "the panel did not open")
    assert await browser.js("return document.getElementById('moderation-dialog').contains(document.activeElement);")


@pytest_twisted.ensureDeferred
async def test_the_panel_pages_through_the_audit_log(chat_server, browsers):
    """24 role changes in "team" make a two-page audit log: the owner's panel (axe-clean) shows the
    newest 20 entries, "Older entries" the rest, newest first; Escape gives the focus back."""
    ann_py = await python_client(chat_server, "ann")
    bob_py = await python_client(chat_server, "bob")
    await ann_py.call("chat.room.create", "team")
    await bob_py.call("chat.room.join", "team")
    for n in range(24):
        await ann_py.call("chat.room.set_role", "team", "bob", "moderator" if n % 2 == 0 else "member")
    ann = await browsers("ann")
    await log_in(ann, chat_server, "ann")
    await open_room(ann, "team")
    await open_moderation_panel(ann)
    await ann.wait_js("document.querySelectorAll('#audit-list li').length === 20", "no first page of 20")
    assert await axe_violations(ann) == []
    await ann.click("#audit-older")
    await ann.wait_js("document.querySelectorAll('#audit-list li').length === 24", "the older page did not come")
    assert not await ann.is_visible("#audit-older")
    ids = await ann.js("return [...document.querySelectorAll('#audit-list li')].map(li => Number(li.dataset.entryId));")
    assert ids == sorted(ids, reverse=True)
    assert (await ann.texts("#audit-list li .audit-what"))[0] == "ann set role bob"
    await ann.keys(Keys.ESCAPE)
    await ann.wait_js("!document.getElementById('moderation-dialog').open", "Escape did not close the panel")
    assert (await ann.active_element())[1] == "moderation-button"
    ann_py.leave()
    bob_py.leave()


# ------------------------------------------------------------ kicks, bans, reports (moderation part two)

@pytest_twisted.ensureDeferred
async def test_moderator_kicks_then_bans_a_member_who_sees_each_notice(chat_server, browsers):
    """Ann (the owner, over Python) makes Bob moderator. Bob kicks Cid with a reason: Cid's page says so
    and leaves the room; Cid may come back (a public room). Bob then bans him for an hour: Cid is told,
    and opening the room is refused. Bob's panel lists the ban and unbans him; Cid may join again."""
    ann_py = await python_client(chat_server, "ann")
    await ann_py.call("chat.room.create", "team")
    bob, cid = await browsers("bob"), await browsers("cid")
    await register(bob, chat_server, "bob")
    await open_room(bob, "team")
    await ann_py.call("chat.room.set_role", "team", "bob", "moderator")
    await register(cid, chat_server, "cid")
    await open_room(cid, "team")
    await bob.wait_visible("#member-list li[data-user='cid'] button[data-action=member-actions]")
    assert not await bob.is_visible("#member-list li[data-user='ann'] button[data-action=member-actions]")

    await open_member_dialog(bob, "cid")
    assert not await bob.is_visible("#make-moderator")   # roles are the owner's and admins'
    await bob.fill("#kick-reason", "calm down")
    await bob.press_enter("#kick-reason")
    await cid.wait_text("#notice", "You were kicked from team by bob: calm down")
    await cid.wait_visible("#no-room")
    await bob.wait_no_text("#member-list", "cid")
    await open_room(cid, "team")

    await bob.wait_visible("#member-list li[data-user='cid'] button[data-action=member-actions]")
    await open_member_dialog(bob, "cid")
    await bob.fill("#ban-reason", "spam")
    await bob.js("document.getElementById('ban-duration').value = '3600';")
    await bob.click("#ban-form button[type=submit]")
    await cid.wait_text("#notice", "You were banned from team by bob: spam")
    await cid.wait_visible("#no-room")
    await cid.click("li[data-room-id='team'] button")
    await cid.wait_text("#notice", "banned")

    await open_moderation_panel(bob)
    await bob.wait_text("#ban-list li", "cid, banned by bob until")
    assert await axe_violations(bob) == []
    await bob.click("#ban-list li[data-user='cid'] button[data-action=unban]")
    await bob.wait_text("#bans-status", "cid was unbanned")
    await open_room(cid, "team")
    ann_py.leave()


@pytest_twisted.ensureDeferred
async def test_a_reported_message_is_resolved_by_the_owner_in_the_panel(chat_server, browsers):
    """Bob reports Cid's message with a reason from the keyboard (the dialog is axe-clean; his own messages
    offer no Report); Ann, the owner, is told, finds it in her panel and resolves it; no open report is
    left."""
    ann, bob = await owner_ann_and_bob_in_team(chat_server, browsers)
    cid = await python_client(chat_server, "cid")
    await cid.call("chat.message.send", "team", "buy cheap pills")
    await say(bob, "my own words")
    assert not await bob.is_visible("#message-list .message.own button[data-action=report]")
    await bob.wait_text("#message-list .message .text", "buy cheap pills")
    await bob.hover("#message-list .message:not(.own)")   # the actions toolbar shows on hover (and on focus)
    await bob.type("#message-list .message:not(.own) button[data-action=report]", Keys.ENTER)
    await bob.wait_js("document.getElementById('report-dialog').open", "the report dialog did not open")
    assert (await bob.active_element())[1] == "report-reason"
    assert await bob.texts("#report-quote") == ["cid: buy cheap pills"]
    assert await axe_violations(bob) == []
    await bob.keys("spam")
    await bob.click("#report-form button[type=submit]")
    await bob.wait_text("#notice", "moderators will look at it")
    assert (await bob.active_element())[3] == "report"

    await ann.wait_text("#notice", "New report in team")
    await open_moderation_panel(ann)
    await ann.wait_text("#report-list li", "buy cheap pills")
    assert "Reason: spam" in (await ann.texts("#report-list li .panel-reason"))
    await ann.fill("#report-list li input", "warned cid")
    await ann.press_enter("#report-list li input")
    await ann.wait_text("#reports-status", "Report resolved: warned cid")
    assert await ann.texts("#report-list li") == []
    ann_py = await testing.connect(chat_server.ws_url, authmethods=["ticket"], authid="ann", secret=PASSWORD)
    assert await ann_py.call("chat.admin.reports", room="team") == []
    ann_py.leave()
    cid.leave()


@pytest_twisted.ensureDeferred
async def test_a_server_ban_sends_the_user_to_the_sign_in_screen_with_the_reason(chat_server, browsers):
    """An admin bans Bob from the server: his open page goes back to the sign-in screen saying he is
    banned, and logging in again is refused with the same words."""
    bob = await browsers("bob")
    await register(bob, chat_server, "bob")
    error = add_user_command(chat_server.db, "root", "admin", None, PASSWORD, 0)
    assert error is None, error
    root = await testing.connect(chat_server.ws_url, authmethods=["ticket"], authid="root", secret=PASSWORD)
    await root.call("chat.admin.ban", "bob", reason="spam everywhere")
    await bob.wait_visible("#login-view")
    await bob.wait_text("#login-error", "banned from this server")
    await bob.fill("#account-password", PASSWORD)
    await bob.click("#login-button")
    await bob.wait_text("#login-error", "banned from this server")
    assert not await bob.is_visible("#chat-view")
    root.leave()
