// The open room: switching to it (show what we have at once, then join for
// history, members and read markers), drawing its pane and header, and
// scrolling back through older pages.

import { renderMembers } from "./members.js";
import { hooks, notify } from "./message_hooks.js";
import { renderRoomNotify } from "./notifications_wiring.js";
import { $, connection, view } from "./page.js";
import { markRead, moveReadMarker, renderSeen } from "./reads.js";
import { isModeratorPlus } from "./roles.js";
import { renderRoomList, roomLabel } from "./room_list.js";
import { ACTIVE_ROOM_KEY, state } from "./state.js";
import { messageArrived, renderPending } from "./timeline.js";
import { renderTyping, stopTyping } from "./typing.js";

const HISTORY_PAGE = 50;

/** Switch to a room: show what we have at once, then join (history + members) and mark it read. */
export async function openRoom(roomId) {
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

export function renderActiveRoom() {
  const roomState = state.rooms.get(state.activeRoomId);
  const open = !!roomState;
  notify(hooks.roomShown, roomState);
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

/** The open room's header: title, topic, badges, and the controls this person may use. */
export function renderRoomHeader() {
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
  $("room-topic").textContent = room.topic || "";
  $("room-topic").hidden = !room.topic;
  $("room-read-only").hidden = !room.read_only;
  $("room-slow").hidden = !room.slow_mode;
  $("room-slow").textContent = room.slow_mode ? `slow mode: ${room.slow_mode}s` : "";
  const moderates = isModeratorPlus(roomState);
  $("room-settings-button").hidden = !moderates;
  $("moderation-button").hidden = !moderates;
  renderRoomNotify();
  notify(hooks.roomShown, roomState);
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
export function loadOlder(limit = HISTORY_PAGE) {
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
