// wampchat page: signs in (the login screen and the WAMP session it opens)
// and wires the page's controls to the modules that do the work. Talks to
// the server only through the API in API.md.

import { showMe, wireAccountDialog } from "./account.js";
import { catchUpAllRooms } from "./catchup.js";
import { completer, composerChanged, deliver, retryPending, sendComposerText } from "./composer.js";
import { errorText, registerAccount, webSocketUrl } from "./connection.js";
import { forgetLogin, nickProblem, rememberLogin, rememberedLogin, USERNAME_PATTERN } from "./login.js";
import { openMemberActions, wireMemberActions } from "./member_actions.js";
import { onMessageAction } from "./message_actions.js";
import { wireMessageFeatures } from "./message_features.js";
import { wireModerationPanel } from "./mod_panel.js";
import { wireNotifications } from "./notifications_wiring.js";
import { loadOlder, openRoom, renderActiveRoom } from "./open_room.js";
import { $, connection, guarded, notifier, reportError, view } from "./page.js";
import { markRead } from "./reads.js";
import { hideReactionPicker } from "./render.js";
import { wireReportDialog } from "./report.js";
import { wireRoomSettings } from "./room_settings.js";
import { renderRoomList } from "./room_list.js";
import {
  addRoom, createRoom, invite, leaveRoom, openDirectMessage, personalNotice, refreshRooms, roomAnnounced,
} from "./rooms.js";
import { closeSearch, moreSearchResults, openRoomAt, runSearch } from "./search.js";
import { sessionEnding } from "./session_end.js";
import { ACTIVE_ROOM_KEY, state } from "./state.js";

const LOBBY = "lobby";            // always exists: where a first sign-in lands

connection.onOpen = (session, isReconnect) => sessionOpened(session, isReconnect).catch(reportError);
connection.onRefused = loginRefused;
connection.onEnded = sessionEnded;

// ---------------------------------------------------------------- login

function showLogin(hint = "", error = "") {
  $("chat-view").hidden = true;
  $("login-view").hidden = false;
  $("login-hint").textContent = hint;
  $("login-error").textContent = error;
}

function showChat() {
  $("login-view").hidden = true;
  $("chat-view").hidden = false;
}

function startChat(login) {
  rememberLogin(login);
  resetChatState();
  showChat();
  connection.start(login);
}

function loginRefused(message) {
  const saved = rememberedLogin();
  if (saved && saved.mode === "user") $("account-username").value = saved.username;
  showLogin("", `Sign-in refused: ${message}`);
}

/** The server ended the session for good (password changed, account deleted, banned): say why. */
function sessionEnded(reason, message) {
  const ending = sessionEnding(reason, message);
  const saved = rememberedLogin();
  if (!ending.keepLogin) forgetLogin();
  sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  resetChatState();
  $("account-username").value = ending.keepLogin && saved && saved.mode === "user" ? saved.username : "";
  showLogin("", ending.text);
}

function signOut() {
  connection.stop();
  forgetLogin();
  sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  resetChatState();
  showLogin("Signed out.");
}

function resetChatState() {
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  state.me = null;
  state.myUserIds.clear();
  state.rooms.clear();
  state.activeRoomId = null;
  state.pending = [];
  state.subscribedRooms.clear();
  showRoleControls(null);
  closeSearch();
  renderRoomList();
  renderActiveRoom();
}

function onGuestSubmit(event) {
  event.preventDefault();
  const nick = $("guest-nick").value.trim();
  const problem = nickProblem(nick);
  if (problem) { $("login-error").textContent = problem; return; }
  startChat({ mode: "guest", nick });
}

async function onAccountSubmit(event) {
  event.preventDefault();
  const username = $("account-username").value.trim();
  const password = $("account-password").value;
  if (!USERNAME_PATTERN.test(username)) {
    $("login-error").textContent = "A username is 2 to 32 of a-z, 0-9 and _.";
    return;
  }
  $("account-password").value = "";
  if (event.submitter && event.submitter.value === "register") {
    const displayName = $("account-display-name").value.trim();
    try {
      $("login-error").textContent = "";
      $("login-hint").textContent = "Creating your account…";
      await registerAccount(webSocketUrl(), { username, password, displayName });
    } catch (err) {
      $("login-hint").textContent = "";
      $("login-error").textContent = `Could not register: ${errorText(err)}`;
      return;
    }
  }
  startChat({ mode: "user", username, password });
}

// ---------------------------------------------------------------- session

/** A (re)joined session: who am I, subscribe, load rooms, catch up, resend. */
async function sessionOpened(session, isReconnect) {
  state.subscribedRooms.clear();
  const me = await connection.call("chat.user.me");
  state.me = me;
  state.myUserIds.add(me.user);
  showMe(me);
  showRoleControls(me.role);

  await session.subscribe("chat.rooms", ([event]) => roomAnnounced(event));
  await subscribeOptional(session, `chat.user.${me.user}.notify`, ([event]) => personalNotice(event));
  await refreshRooms(session);

  // Catch up before re-joining: join returns only the newest page, and the
  // gap between it and what we had is exactly what `after` fetches.
  if (isReconnect) await catchUpAllRooms();
  const landing = roomToOpen(isReconnect);
  if (landing) await openRoom(landing);
  for (const pending of state.pending) deliver(pending);
}

/**
 * Which room a (re)opened session shows: the one open before (or before a reload of this tab), else, on
 * a first sign-in, the lobby, so nobody starts on an empty pane. After a reconnect with no room open
 * (the user left one) it stays that way.
 */
function roomToOpen(isReconnect) {
  const wanted = state.activeRoomId || sessionStorage.getItem(ACTIVE_ROOM_KEY);
  if (wanted && state.rooms.has(wanted)) return wanted;
  if (!isReconnect && state.rooms.has(LOBBY)) return LOBBY;
  return null;
}

/** Show only what this role may use: guests create no rooms (chat.room.create is forbidden to them). */
function showRoleControls(role) {
  const mayCreateRooms = !!role && role !== "guest";
  $("create-room-form").hidden = !mayCreateRooms;
  $("account-button").hidden = !mayCreateRooms;   // guests have no account to manage
  $("no-room").textContent = mayCreateRooms ? "Pick a room on the left, or create one." : "Pick a room on the left.";
}

async function subscribeOptional(session, topic, handler) {
  try {
    await session.subscribe(topic, handler);
  } catch (err) {
    console.warn(`not subscribed to ${topic}: ${errorText(err)}`);
  }
}

// ---------------------------------------------------------------- wiring

function wireEvents() {
  wireAccountDialog();
  wireMemberActions();
  wireReportDialog();
  wireRoomSettings();
  wireModerationPanel();
  wireNotifications({ openRoom, addRoom });
  $("guest-form").addEventListener("submit", onGuestSubmit);
  $("account-form").addEventListener("submit", guarded(onAccountSubmit));
  $("sign-out").addEventListener("click", signOut);
  $("sound-toggle").checked = notifier.soundOn;
  $("sound-toggle").addEventListener("change", (e) => notifier.setSound(e.target.checked));
  $("toggle-sidebar").addEventListener("click", () => $("sidebar").classList.toggle("open"));
  $("toggle-members").addEventListener("click", () => $("members-pane").classList.toggle("open"));

  const openClickedRoom = guarded((event) => {
    const item = event.target.closest("li[data-room-id]");
    if (item) return openRoom(item.dataset.roomId);
  });
  $("room-list").addEventListener("click", openClickedRoom);
  $("dm-list").addEventListener("click", openClickedRoom);
  $("create-room-form").addEventListener("submit", guarded(createRoom));
  $("leave-room").addEventListener("click", guarded(leaveRoom));
  $("invite-form").addEventListener("submit", guarded(invite));
  $("member-list").addEventListener("click", guarded((event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const user = button.closest("li").dataset.user;
    if (button.dataset.action === "member-actions") return openMemberActions(user);
    if (button.dataset.action === "dm") return openDirectMessage(user);
  }));

  $("composer").addEventListener("submit", (event) => { event.preventDefault(); sendComposerText(); });
  $("composer-input").addEventListener("keydown", (event) => {
    if (completer.keydown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendComposerText();
    }
  });
  $("composer-input").addEventListener("input", () => { composerChanged(); completer.update(); });
  $("composer-input").addEventListener("click", () => completer.update());
  $("composer-input").addEventListener("blur", () => completer.close());
  $("search-form").addEventListener("submit", guarded(runSearch));
  $("search-more").addEventListener("click", guarded(moreSearchResults));
  $("search-close").addEventListener("click", () => { closeSearch(); $("search-input").focus(); });
  $("search-hits").addEventListener("click", guarded((event) => {
    const hit = event.target.closest("button.search-hit");
    if (hit) return openRoomAt(hit.dataset.roomId, hit.dataset.messageId);
  }));
  $("message-list").addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const item = event.target.closest("li.message");
    if (item && item.querySelector(".reaction-picker")) {
      hideReactionPicker(item);
      item.querySelector("[data-action=react-menu]").focus();
    }
  });
  $("message-list").addEventListener("click", guarded(onMessageAction));
  $("pending-list").addEventListener("click", retryPending);
  $("load-older").addEventListener("click", guarded(() => loadOlder()));
  $("messages").addEventListener("scroll", () => {
    if (view.atBottom()) $("jump-to-bottom").hidden = true;
    if ($("messages").scrollTop < 60) guarded(loadOlder)();
  });
  $("jump-to-bottom").addEventListener("click", () => { view.scrollToBottom(); $("jump-to-bottom").hidden = true; });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.activeRoomId) markRead(state.activeRoomId);
  });
  wireMessageFeatures();   // files, uploads, replies, threads, pins (after the composer's own keys)
}

function start() {
  wireEvents();
  const saved = rememberedLogin();
  if (saved && saved.mode === "guest") {
    startChat(saved);
  } else if (saved && saved.mode === "user") {
    $("account-username").value = saved.username;
    showLogin(`Welcome back, ${saved.username}: enter your password to continue.`);
    $("account-password").focus();
  } else {
    showLogin();
  }
}

start();
