// wampchat page: wires the login screen, the WAMP connection and the chat
// view together. Talks to the server only through the API in API.md.

import { ChatConnection, errorText, registerAccount, webSocketUrl } from "./connection.js";
import { forgetLogin, nickProblem, rememberLogin, rememberedLogin, USERNAME_PATTERN } from "./login.js";
import { MentionCompleter } from "./complete.js";
import { compareIds, MessageLog } from "./messages.js";
import { MessageListView } from "./message_view.js";
import { BackgroundNotifier } from "./notify.js";
import {
  hideReactionPicker, memberItem, roomItem, searchHit, showDeleteConfirm, showEditBox, showReactionPicker, typingText,
} from "./render.js";

const $ = (id) => document.getElementById(id);

const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 200;
const TYPING_IDLE_MS = 4000;      // stop saying "typing" after this much quiet
const TYPING_REPEAT_MS = 5000;    // repeat "typing" this often while typing
const TYPING_EXPIRE_MS = 8000;    // forget someone's "typing" if not repeated
const NOTICE_MS = 4000;
const ACTIVE_ROOM_KEY = "wampchat.room";
const LOBBY = "lobby";            // always exists: where a first sign-in lands
const SEARCH_PAGE = 20;
const JUMP_PAGE = 200;            // history page size when scrolling back to a search hit
const JUMP_MAX_PAGES = 25;        // give up after this many (5000 messages back)
const SEEN_BY_MAX_MEMBERS = 10;   // read receipts in rooms this small, and in DMs

/** Everything the page knows about one room. */
class RoomState {
  constructor(room, unread = 0) {
    this.room = room;
    this.unread = unread;
    this.log = new MessageLog();
    this.members = new Map();   // user -> {user, nick, online}
    this.typing = new Map();    // user -> {nick, timer}
    this.lastReadSent = null;
    this.mentions = 0;          // unread messages that mention me (counted apart from unread)
    this.mentionIds = new Set();// which ones, so a message counted live is not counted again
    this.changes = null;        // change cursor from the last join: edits/deletes/reactions after it are fetched
    this.reads = new Map();     // user -> id of the newest message they read
  }
}

const state = {
  me: null,                  // User from chat.user.me
  myUserIds: new Set(),      // every id this page signed in as (guests get a new one per session)
  rooms: new Map(),          // room id -> RoomState
  activeRoomId: null,
  pending: [],               // {clientMsgId, roomId, text, failed, inFlight}
  subscribedRooms: new Set(),// rooms subscribed in the current session
  loadingOlder: null,        // the scroll-back page on its way (a Promise), if any
  search: null,              // {query, messages, more} of the search shown
  gapCatchUps: new Map(),    // room id -> true when another gap came during its catch-up
  roomsRefresh: null,        // the room list reload a gap asked for (a Promise), if any
};

const isMe = (user) => state.myUserIds.has(user);

const notifier = new BackgroundNotifier();
const connection = new ChatConnection({
  url: webSocketUrl(),
  onOpen: (session, isReconnect) => sessionOpened(session, isReconnect).catch(reportError),
  onState: showConnectionState,
  onRefused: loginRefused,
});
const view = new MessageListView({
  scroller: $("messages"),
  list: $("message-list"),
  pendingList: $("pending-list"),
  isOwn: (message) => state.myUserIds.has(message.user),
  isMe: (user) => isMe(user),
});
const completer = new MentionCompleter({
  input: $("composer-input"),
  list: $("mention-options"),
  candidates: () => {
    const roomState = state.rooms.get(state.activeRoomId);
    return roomState ? [...roomState.members.values()].filter((m) => !isMe(m.user)) : [];
  },
});

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

function signOut() {
  connection.stop();
  forgetLogin();
  sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  resetChatState();
  showLogin("Signed out.");
}

function resetChatState() {
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
  $("me").textContent = me.nick && me.nick !== me.user ? `${me.nick} (${me.user})` : me.user;
  $("me").title = $("me").textContent;
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
  $("no-room").textContent = mayCreateRooms ? "Pick a room on the left, or create one." : "Pick a room on the left.";
}

async function subscribeOptional(session, topic, handler) {
  try {
    await session.subscribe(topic, handler);
  } catch (err) {
    console.warn(`not subscribed to ${topic}: ${errorText(err)}`);
  }
}

/** Every page of chat.room.list (a full page of ROOMS_PAGE means another may follow; bounded by MAX_ROOM_PAGES). */
const ROOMS_PAGE = 500;
const MAX_ROOM_PAGES = 20;
async function listAllRooms() {
  const rooms = [];
  for (let page = 0; page < MAX_ROOM_PAGES; page++) {
    const after = rooms.length ? rooms[rooms.length - 1].id : null;
    const batch = await connection.call("chat.room.list", [], after ? { after, limit: ROOMS_PAGE } : { limit: ROOMS_PAGE });
    rooms.push(...batch);
    if (batch.length < ROOMS_PAGE) break;
  }
  return rooms;
}

/** Load chat.room.list: add new rooms, drop ones we may no longer see, take the server's unread counts. */
async function refreshRooms(session) {
  const rooms = await listAllRooms();
  const visible = new Set();
  for (const room of rooms) {
    visible.add(room.id);
    const known = state.rooms.get(room.id);
    const roomState = known || new RoomState(room);
    if (known) known.room = { ...known.room, ...room };
    else state.rooms.set(room.id, roomState);
    roomState.unread = room.unread || 0;
    roomState.mentions = room.mentions || 0;
    roomState.mentionIds.clear();
  }
  for (const id of [...state.rooms.keys()]) {
    if (!visible.has(id)) state.rooms.delete(id);
  }
  if (state.activeRoomId && !visible.has(state.activeRoomId)) state.activeRoomId = null;
  await Promise.all(rooms.map((room) => subscribeRoom(session, room.id)));
  renderRoomList();
  renderActiveRoom();
}

/** The live topics of a room; `gap` says live events may be missing (the server's broker lost them): catch up. */
async function subscribeRoom(session, roomId) {
  if (state.subscribedRooms.has(roomId) || !session) return;
  state.subscribedRooms.add(roomId);
  const prefix = `chat.room.${roomId}.`;
  const handlers = {
    message: ([message]) => messageArrived(roomId, message, true),
    edit: ([message]) => messageArrived(roomId, message, true),
    delete: ([gone]) => messageDeleted(roomId, gone.id),
    typing: ([typing]) => typingChanged(roomId, typing),
    presence: ([presence]) => presenceChanged(roomId, presence),
    read: ([marker]) => readMarkerMoved(roomId, marker),
    reaction: ([reaction]) => reactionChanged(roomId, reaction),
    gap: () => liveEventsMissed(roomId),
  };
  try {
    await Promise.all(Object.entries(handlers).map(([suffix, handler]) => session.subscribe(prefix + suffix, handler)));
  } catch (err) {
    state.subscribedRooms.delete(roomId);
    console.warn(`cannot follow room ${roomId}: ${errorText(err)}`);
  }
}

function addRoom(room) {
  if (!state.rooms.has(room.id)) state.rooms.set(room.id, new RoomState(room));
  else state.rooms.get(room.id).room = { ...state.rooms.get(room.id).room, ...room };
  subscribeRoom(connection.session, room.id);
  renderRoomList();
  return state.rooms.get(room.id);
}

function roomAnnounced(event) {
  if (event && event.room) addRoom(event.room);
}

function personalNotice(event) {
  if (!event || !event.room) return;
  addRoom(event.room);
  if (event.event === "invited") showNotice(`You were invited to ${roomLabel(event.room)}.`);
  // A mention also comes as the room's message event; whichever is first shows it, the other is "same".
  if (event.event === "mention" && event.message) messageArrived(event.room.id, event.message, true);
}

/** After a reconnect: fetch, for every room we had open, what was sent while we were away. */
async function catchUpAllRooms() {
  for (const [roomId, roomState] of state.rooms) {
    if (!roomState.log.loaded) continue;
    try {
      await catchUp(roomId);
    } catch (err) {
      console.warn(`could not catch up on ${roomId}: ${errorText(err)}`);
    }
  }
}

/**
 * chat.room.<id>.gap: the node could not deliver every live event of this room (docs/API.md, Several
 * nodes), so fetch what we may lack as after a reconnect, and look at the room list again (an invite or
 * a new room may be among what was missed). Gaps that arrive while one catch-up runs make one more.
 */
async function liveEventsMissed(roomId) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !roomState.log.loaded) return; // opening it later loads its history anyway
  if (state.gapCatchUps.has(roomId)) {
    state.gapCatchUps.set(roomId, true);
    return;
  }
  state.gapCatchUps.set(roomId, false);
  try {
    do {
      state.gapCatchUps.set(roomId, false);
      await catchUp(roomId);
    } while (state.gapCatchUps.get(roomId));
    await refreshRoomsOnce();
  } catch (err) {
    console.warn(`could not catch up on ${roomId} after a gap: ${errorText(err)}`);
  } finally {
    state.gapCatchUps.delete(roomId);
  }
}

/** One room list reload for the gaps of many rooms at once. */
function refreshRoomsOnce() {
  if (!state.roomsRefresh) {
    state.roomsRefresh = refreshRooms(connection.session).finally(() => { state.roomsRefresh = null; });
  }
  return state.roomsRefresh;
}

async function catchUp(roomId) {
  const roomState = state.rooms.get(roomId);
  let after = roomState && roomState.log.newestId();
  while (after) {
    const page = await connection.call("chat.message.history", [roomId], { after, limit: CATCH_UP_PAGE });
    for (const message of page.messages) messageArrived(roomId, message, false);
    if (!page.more || page.messages.length === 0) break;
    after = page.messages[page.messages.length - 1].id;
  }
  await catchUpChanges(roomId);
  if (roomId === state.activeRoomId) markRead(roomId);
}

/** Edits, deletes and reactions made while we were away, to the messages we have (changed_after). */
async function catchUpChanges(roomId) {
  const roomState = state.rooms.get(roomId);
  let cursor = roomState && roomState.changes;
  if (cursor === null || cursor === undefined) return;
  for (;;) {
    const page = await connection.call("chat.message.history", [roomId], { changed_after: cursor, limit: CATCH_UP_PAGE });
    for (const message of page.messages) {
      if (roomState.log.get(message.id)) messageArrived(roomId, message, false);
    }
    cursor = page.changes;
    if (!page.more) break;
  }
  roomState.changes = cursor;
}

// ---------------------------------------------------------------- rooms

/**
 * What a room is called in the sidebar: its title, or for a DM the other person. A DM's id cannot be
 * decoded (ids with `_` in a name take other forms), but its title is "<a> & <b>", the two usernames.
 */
function roomLabel(room) {
  if (room.id.startsWith("dm_") && room.title) {
    const pair = room.title.split(" & ");
    if (pair.length === 2 && pair.some(isMe)) return pair.find((user) => !isMe(user)) || pair[0];
  }
  return room.title || room.id;
}

function renderRoomList() {
  const byLabel = [...state.rooms.values()].sort((a, b) => roomLabel(a.room).localeCompare(roomLabel(b.room)));
  const item = (rs) => roomItem(rs.room, roomLabel(rs.room), rs.unread, rs.room.id === state.activeRoomId,
    rs.mentions);
  $("room-list").replaceChildren(...byLabel.filter((rs) => !rs.room.id.startsWith("dm_")).map(item));
  $("dm-list").replaceChildren(...byLabel.filter((rs) => rs.room.id.startsWith("dm_")).map(item));
  const elsewhere = byLabel.reduce((sum, rs) => sum + (rs.room.id === state.activeRoomId ? 0 : rs.unread), 0);
  $("sidebar-unread").textContent = String(elsewhere);
  $("sidebar-unread").hidden = !elsewhere;
}

/** Switch to a room: show what we have at once, then join (history + members) and mark it read. */
async function openRoom(roomId) {
  const roomState = state.rooms.get(roomId);
  if (!roomState) return;
  if (state.activeRoomId !== roomId) stopTyping();
  state.activeRoomId = roomId;
  sessionStorage.setItem(ACTIVE_ROOM_KEY, roomId);
  $("sidebar").classList.remove("open");
  renderRoomList();
  renderActiveRoom();
  view.scrollToBottom();

  const joined = await connection.call("chat.room.join", [roomId]);
  roomState.room = { ...roomState.room, ...joined.room, member: true };
  roomState.members = new Map(joined.members.map((m) => [m.user, m]));
  roomState.changes = joined.changes;
  for (const [user, messageId] of Object.entries(joined.reads || {})) moveReadMarker(roomState, user, messageId);
  if (!roomState.log.loaded) roomState.log.hasOlder = joined.history.length >= HISTORY_PAGE;
  roomState.log.loaded = true;
  const wasAtBottom = view.atBottom();
  for (const message of joined.history) messageArrived(roomId, message, false);
  if (roomId !== state.activeRoomId) return;
  renderRoomHeader();
  renderMembers();
  renderOlderControls();
  renderSeen();
  if (wasAtBottom) view.scrollToBottom();
  markRead(roomId);
}

function renderActiveRoom() {
  const roomState = state.rooms.get(state.activeRoomId);
  const open = !!roomState;
  $("no-room").hidden = open;
  for (const id of ["room-header", "messages", "composer"]) $(id).hidden = !open;
  $("jump-to-bottom").hidden = true;
  if (!open) {
    view.showAll([]);
    $("member-list").replaceChildren();
    $("typing").textContent = "";
    return;
  }
  view.showAll(roomState.log.ordered());
  renderSeen();
  renderPending();
  renderRoomHeader();
  renderMembers();
  renderTyping();
  renderOlderControls();
}

function renderRoomHeader() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  const room = roomState.room;
  const isDm = room.id.startsWith("dm_");
  $("room-title").textContent = roomLabel(room);
  $("room-title").title = roomLabel(room);
  $("room-private").hidden = !room.private || isDm;
  const mayInvite = room.private && !isDm && state.me &&
    (room.owner === state.me.user || state.me.role === "admin");
  $("invite-form").hidden = !mayInvite;
}

function renderOlderControls() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  $("load-older").hidden = !roomState.log.hasOlder;
  $("history-start").hidden = roomState.log.hasOlder || !roomState.log.loaded;
}

/**
 * Scroll-back: fetch the page of messages before the oldest one shown. While a page is on its way,
 * asking again waits for that one (so a caller looping until a message is there never spins).
 */
function loadOlder(limit = HISTORY_PAGE) {
  if (state.loadingOlder) return state.loadingOlder;
  const roomId = state.activeRoomId;
  const roomState = state.rooms.get(roomId);
  if (!roomState || !roomState.log.hasOlder) return Promise.resolve();
  const before = roomState.log.oldestId();
  if (!before) { roomState.log.hasOlder = false; renderOlderControls(); return Promise.resolve(); }
  const loading = (async () => {
    const page = await connection.call("chat.message.history", [roomId], { before, limit });
    if (roomId !== state.activeRoomId) return;
    view.keepingPosition(() => {
      for (const message of page.messages) if (roomState.log.put(message) !== "same") view.upsert(roomState.log.get(message.id));
    });
    roomState.log.hasOlder = !!page.more;
    renderOlderControls();
    renderSeen();
  })();
  state.loadingOlder = loading.finally(() => { state.loadingOlder = null; });
  return state.loadingOlder;
}

// ---------------------------------------------------------------- search

async function runSearch(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) { closeSearch(); return; }
  $("search-status").textContent = "Searching…";
  $("search-results").hidden = false;
  try {
    const result = await connection.call("chat.message.search", [query], { limit: SEARCH_PAGE });
    state.search = { query, messages: result.messages, more: result.more };
  } catch (err) {
    state.search = null;
    $("search-hits").replaceChildren();
    $("search-more").hidden = true;
    $("search-status").textContent = `Search failed: ${errorText(err)}`;
    return;
  }
  renderSearch();
}

async function moreSearchResults() {
  const search = state.search;
  if (!search || !search.more) return;
  const before = search.messages[search.messages.length - 1].id;
  const result = await connection.call("chat.message.search", [search.query], { before, limit: SEARCH_PAGE });
  if (state.search !== search) return;
  search.messages.push(...result.messages);
  search.more = result.more;
  renderSearch();
}

function renderSearch() {
  const search = state.search;
  const count = search.messages.length;
  $("search-status").textContent = count ? `${count}${search.more ? "+" : ""} result${count === 1 ? "" : "s"}`
    : "No messages found.";
  $("search-hits").replaceChildren(...search.messages.map((m) => {
    const roomState = state.rooms.get(m.room);
    return searchHit(m, roomState ? roomLabel(roomState.room) : m.room);
  }));
  $("search-more").hidden = !search.more;
}

function closeSearch() {
  state.search = null;
  $("search-results").hidden = true;
  $("search-hits").replaceChildren();
  $("search-status").textContent = "";
}

/** Open a room scrolled to one message (a search hit), loading older pages until it is there. */
async function openRoomAt(roomId, messageId) {
  if (!state.rooms.has(roomId)) return;
  await openRoom(roomId);
  const roomState = state.rooms.get(roomId);
  for (let pages = 0; !roomState.log.get(messageId) && roomState.log.hasOlder && pages < JUMP_MAX_PAGES; pages += 1) {
    if (state.activeRoomId !== roomId) return;
    await loadOlder(JUMP_PAGE);
  }
  const item = view.item(messageId);
  if (!item) { showNotice("That message is too far back to show here."); return; }
  for (const old of document.querySelectorAll("#message-list .jump-target")) old.classList.remove("jump-target");
  item.classList.add("jump-target");
  item.tabIndex = -1;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
  $("sidebar").classList.remove("open");
}

async function createRoom(event) {
  event.preventDefault();
  const roomId = $("new-room-id").value.trim();
  const title = $("new-room-title").value.trim();
  const isPrivate = $("new-room-private").checked;
  const room = await connection.call("chat.room.create", [roomId], { title: title || roomId, private: isPrivate });
  $("create-room-form").reset();
  addRoom(room);
  await openRoom(room.id);
}

async function leaveRoom() {
  const roomId = state.activeRoomId;
  if (!roomId) return;
  await connection.call("chat.room.leave", [roomId]);
  state.activeRoomId = null;
  sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  state.rooms.delete(roomId);
  await refreshRooms(connection.session);
  showNotice(`You left ${roomId}.`);
}

async function invite(event) {
  event.preventDefault();
  const username = $("invite-username").value.trim();
  await connection.call("chat.room.invite", [state.activeRoomId, username]);
  $("invite-username").value = "";
  showNotice(`Invited ${username}.`);
}

async function openDirectMessage(username) {
  const room = await connection.call("chat.dm.open", [username]);
  addRoom(room);
  await openRoom(room.id);
}

// ---------------------------------------------------------------- messages

/** A message from an event, a history page or a send result; shown once however often it comes. */
function messageArrived(roomId, message, live) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !message) return;
  const change = roomState.log.put(message);
  if (message.client_msg_id) dropPending(message.client_msg_id);
  if (change === "same") return;
  const isActive = roomId === state.activeRoomId;
  const fromMe = state.myUserIds.has(message.user);
  if (isActive) {
    const wasAtBottom = view.atBottom();
    view.upsert(roomState.log.get(message.id));
    if (wasAtBottom || (fromMe && change === "new")) view.scrollToBottom();
    else if (change === "new" && live) $("jump-to-bottom").hidden = false;
  }
  if (isActive && change !== "new") renderSeen();
  if (change !== "new" || !live || fromMe) return;
  clearTyping(roomId, message.user);
  notifier.messageArrived();
  const mentionsMe = (message.mentions || []).some(isMe);
  if (isActive && !document.hidden) {
    markRead(roomId);
  } else if (roomState.room.member !== false || mentionsMe) {   // rooms we only look into count only mentions
    roomState.unread += 1;
    if (mentionsMe && !roomState.mentionIds.has(message.id)) {
      roomState.mentionIds.add(message.id);
      roomState.mentions += 1;
    }
    renderRoomList();
  }
}

/** A reaction was given or taken back (live): redraw that message if we have it. */
function reactionChanged(roomId, reaction) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !reaction || !roomState.log.applyReaction(reaction.id, reaction.emoji, reaction.user, reaction.on)) return;
  if (roomId === state.activeRoomId) view.upsert(roomState.log.get(reaction.id));
}

/** Toggle my reaction on a message; the answer carries every reaction, so the message is redrawn from it. */
async function toggleReaction(roomId, messageId, emoji) {
  const roomState = state.rooms.get(roomId);
  const message = roomState && roomState.log.get(messageId);
  if (!message) return;
  const on = !((message.reactions || {})[emoji] || []).some(isMe);
  const updated = await connection.call("chat.message.react", [roomId, messageId, emoji], { on });
  messageArrived(roomId, updated, false);
}

function messageDeleted(roomId, messageId) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !roomState.log.markDeleted(messageId)) return;
  if (roomId === state.activeRoomId) view.upsert(roomState.log.get(messageId));
}

/** Tell the server we read up to the newest message of the open room. */
function markRead(roomId) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || document.hidden) return;
  if (roomState.unread || roomState.mentions) {
    roomState.unread = 0;
    roomState.mentions = 0;
    roomState.mentionIds.clear();
    renderRoomList();
  }
  const newest = roomState.log.newestId();
  if (!newest || (roomState.lastReadSent && compareIds(newest, roomState.lastReadSent) <= 0)) return;
  roomState.lastReadSent = newest;
  connection.call("chat.read", [roomId, newest]).catch(() => { roomState.lastReadSent = null; });
}

/** Someone's read marker moved: theirs feeds "Seen by"; our own (another tab) means the room is read. */
function readMarkerMoved(roomId, marker) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !marker) return;
  if (!state.myUserIds.has(marker.user)) {
    moveReadMarker(roomState, marker.user, marker.message_id);
    if (roomId === state.activeRoomId) renderSeen();
    return;
  }
  const newest = roomState.log.newestId();
  if (!newest || compareIds(marker.message_id, newest) >= 0) {
    roomState.unread = 0;
    roomState.mentions = 0;
    roomState.mentionIds.clear();
    renderRoomList();
  }
}

function moveReadMarker(roomState, user, messageId) {
  const known = roomState.reads.get(user);
  if (!known || compareIds(messageId, known) > 0) roomState.reads.set(user, messageId);
}

/**
 * Read receipts for the open room, in DMs and rooms of at most SEEN_BY_MAX_MEMBERS: each other member
 * is shown under the newest message (not their own) up to their read marker.
 */
function renderSeen() {
  const roomState = state.rooms.get(state.activeRoomId);
  const seen = new Map();
  const small = roomState && (roomState.room.id.startsWith("dm_") || roomState.members.size <= SEEN_BY_MAX_MEMBERS);
  if (small) {
    const ordered = roomState.log.ordered().filter((m) => !m.deleted);
    for (const [user, markerId] of roomState.reads) {
      if (isMe(user)) continue;
      let at = null;
      for (let i = ordered.length - 1; i >= 0; i -= 1) {
        if (compareIds(ordered[i].id, markerId) <= 0) { at = ordered[i]; break; }
      }
      if (!at || at.user === user) continue;
      const member = roomState.members.get(user);
      const names = seen.get(at.id) || [];
      names.push((member && member.nick) || user);
      seen.set(at.id, names);
    }
  }
  view.setSeen(seen);
}

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sendComposerText() {
  const text = $("composer-input").value;
  if (!text.trim() || !state.activeRoomId) return;
  $("composer-input").value = "";
  resizeComposer();
  stopTyping();
  const pending = { clientMsgId: newClientMsgId(), roomId: state.activeRoomId, text, failed: false, inFlight: false };
  state.pending.push(pending);
  renderPending();
  view.scrollToBottom();
  deliver(pending);
}

/** Send (or resend, with the same client_msg_id) a message; kept until the server has it. */
async function deliver(pending) {
  if (pending.inFlight || !connection.session) return;
  pending.inFlight = true;
  pending.failed = false;
  renderPending();
  try {
    const message = await connection.call("chat.message.send", [pending.roomId, pending.text],
      { client_msg_id: pending.clientMsgId });
    dropPending(pending.clientMsgId);
    messageArrived(pending.roomId, message, false);
  } catch (err) {
    if (isRefusal(err)) {
      pending.failed = true;
      showNotice(`Not sent: ${errorText(err)} (click the message to retry)`);
    }
    // otherwise the connection went away: it is resent after the reconnect
  } finally {
    pending.inFlight = false;
    renderPending();
  }
}

/** An error the server gave on purpose (resending will not help by itself). */
function isRefusal(err) {
  return !!(err && typeof err.error === "string" &&
    (err.error.startsWith("wampchat.error.") || err.error.startsWith("wamp.error.")) &&
    err.error !== "wamp.error.canceled");
}

function dropPending(clientMsgId) {
  const before = state.pending.length;
  state.pending = state.pending.filter((p) => p.clientMsgId !== clientMsgId);
  if (state.pending.length !== before) renderPending();
}

function renderPending() {
  if (!state.me) return;
  view.showPending(state.pending.filter((p) => p.roomId === state.activeRoomId), state.me);
}

function retryPending(event) {
  const item = event.target.closest("li.pending.failed");
  if (!item) return;
  const pending = state.pending.find((p) => p.clientMsgId === item.dataset.clientMsgId);
  if (pending) deliver(pending);
}

/** Edit and delete buttons on own messages (one listener for the whole list). */
async function onMessageAction(event) {
  const button = event.target.closest("button[data-action]");
  const item = event.target.closest("li.message");
  if (!button || !item) return;
  const roomId = state.activeRoomId;
  const message = state.rooms.get(roomId).log.get(item.dataset.id);
  switch (button.dataset.action) {
    case "react": await toggleReaction(roomId, message.id, button.dataset.emoji); break;
    case "react-menu":
      if (item.querySelector(".reaction-picker")) hideReactionPicker(item);
      else showReactionPicker(item).focus();
      break;
    case "react-pick": {
      hideReactionPicker(item);
      const mine = ((message.reactions || {})[button.dataset.emoji] || []).some(isMe);
      if (!mine) await toggleReaction(roomId, message.id, button.dataset.emoji);
      const add = view.item(message.id) && view.item(message.id).querySelector("[data-action=react-menu]");
      if (add) add.focus();
      break;
    }
    case "edit": {
      const box = showEditBox(item, message.text);
      box.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); saveEdit(roomId, message, box.value); }
        if (e.key === "Escape") view.upsert(message);
      });
      break;
    }
    case "save-edit": await saveEdit(roomId, message, item.querySelector(".edit-box").value); break;
    case "cancel-edit": view.upsert(message); break;
    case "delete": showDeleteConfirm(item); break;
    case "cancel-delete": view.upsert(message); break;
    case "confirm-delete":
      await connection.call("chat.message.delete", [roomId, message.id]);
      messageDeleted(roomId, message.id);
      break;
    default:
  }
}

async function saveEdit(roomId, message, text) {
  if (!text.trim() || text === message.text) { view.upsert(state.rooms.get(roomId).log.get(message.id)); return; }
  const edited = await connection.call("chat.message.edit", [roomId, message.id, text]);
  messageArrived(roomId, edited, false);
  view.upsert(state.rooms.get(roomId).log.get(message.id));
}

// ---------------------------------------------------------------- typing & presence

let typingRoomId = null;
let typingSentAt = 0;
let typingIdleTimer = null;

/** Say "typing" while the composer changes; repeat now and then; stop when idle. */
function composerChanged() {
  resizeComposer();
  const roomId = state.activeRoomId;
  if (!roomId || !$("composer-input").value.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (typingRoomId !== roomId || now - typingSentAt > TYPING_REPEAT_MS) {
    typingRoomId = roomId;
    typingSentAt = now;
    connection.call("chat.typing", [roomId, true]).catch(() => {});
  }
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdleTimer);
  if (!typingRoomId) return;
  const roomId = typingRoomId;
  typingRoomId = null;
  typingSentAt = 0;
  connection.call("chat.typing", [roomId, false]).catch(() => {});
}

function typingChanged(roomId, typing) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !typing || state.myUserIds.has(typing.user)) return;
  clearTyping(roomId, typing.user);
  if (typing.typing) {
    const timer = setTimeout(() => clearTyping(roomId, typing.user), TYPING_EXPIRE_MS);
    roomState.typing.set(typing.user, { nick: typing.nick || typing.user, timer });
  }
  if (roomId === state.activeRoomId) renderTyping();
}

function clearTyping(roomId, user) {
  const roomState = state.rooms.get(roomId);
  const entry = roomState && roomState.typing.get(user);
  if (!entry) return;
  clearTimeout(entry.timer);
  roomState.typing.delete(user);
  if (roomId === state.activeRoomId) renderTyping();
}

function renderTyping() {
  const roomState = state.rooms.get(state.activeRoomId);
  const nicks = roomState ? [...roomState.typing.values()].map((t) => t.nick) : [];
  $("typing").textContent = typingText(nicks);
}

function presenceChanged(roomId, presence) {  // members also feed @-completion and "Seen by"
  const roomState = state.rooms.get(roomId);
  if (!roomState || !presence) return;
  const member = roomState.members.get(presence.user) || { user: presence.user, nick: presence.nick, online: false };
  if (presence.event === "leave") roomState.members.delete(presence.user);
  else roomState.members.set(presence.user, { ...member, nick: presence.nick || member.nick, online: presence.event !== "offline" });
  if (presence.event === "offline" || presence.event === "leave") clearTyping(roomId, presence.user);
  if (roomId === state.activeRoomId) { renderMembers(); renderSeen(); }
}

function renderMembers() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  const members = [...roomState.members.values()].sort((a, b) =>
    (b.online - a.online) || (a.nick || a.user).localeCompare(b.nick || b.user));
  $("member-list").replaceChildren(...members.map((m) => memberItem(m, state.myUserIds.has(m.user))));
}

// ---------------------------------------------------------------- page chrome

function showConnectionState(connState, detail) {
  const labels = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: `Reconnecting${detail && detail.delay ? ` in ${Math.ceil(detail.delay)}s` : ""}…`,
    offline: "Offline",
  };
  $("conn-state").dataset.state = connState;
  $("conn-state").textContent = labels[connState];
}

let noticeTimer = null;
function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { $("notice").hidden = true; }, NOTICE_MS);
}

function reportError(err) {
  if (err && err.offline) return;   // the reconnect takes care of it
  console.error(err);
  showNotice(errorText(err));
}

function resizeComposer() {
  const input = $("composer-input");
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight + 2}px`;
}

/** Run an async UI action and show its failure instead of losing it. */
function guarded(action) {
  return (...args) => Promise.resolve().then(() => action(...args)).catch(reportError);
}

function wireEvents() {
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
    const button = event.target.closest("button[data-action=dm]");
    if (button) return openDirectMessage(button.closest("li").dataset.user);
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
