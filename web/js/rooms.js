// The rooms I can see: loading chat.room.list (every page), following each
// room's live topics, rooms announced or given to me (a new room, an invite,
// a mention), and creating, leaving, inviting to and opening DM rooms.

import { liveEventsMissed } from "./catchup.js";
import { errorText } from "./connection.js";
import { GONE, presenceChanged } from "./members.js";
import { openRoom, renderActiveRoom, renderRoomHeader } from "./open_room.js";
import { $, connection, showNotice } from "./page.js";
import { roomEventHandlers } from "./message_hooks.js";
import { readMarkerMoved } from "./reads.js";
import { removedFromRoom } from "./removal.js";
import { renderRoomList, roomLabel } from "./room_list.js";
import { ACTIVE_ROOM_KEY, RoomState, isMe, state } from "./state.js";
import { messageArrived, messageDeleted, reactionChanged } from "./timeline.js";
import { typingChanged } from "./typing.js";

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
export async function refreshRooms(session) {
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

/** One room list reload for the gaps of many rooms at once. */
function refreshRoomsOnce() {
  if (!state.roomsRefresh) {
    state.roomsRefresh = refreshRooms(connection.session).finally(() => { state.roomsRefresh = null; });
  }
  return state.roomsRefresh;
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
    presence: ([presence]) => memberChanged(roomId, presence),
    update: ([room]) => roomUpdated(roomId, room),
    read: ([marker]) => readMarkerMoved(roomId, marker),
    reaction: ([reaction]) => reactionChanged(roomId, reaction),
    gap: () => liveEventsMissed(roomId, refreshRoomsOnce),
    ...roomEventHandlers(roomId),   // files, replies, threads, pins
  };
  try {
    await Promise.all(Object.entries(handlers).map(([suffix, handler]) => session.subscribe(prefix + suffix, handler)));
  } catch (err) {
    state.subscribedRooms.delete(roomId);
    console.warn(`cannot follow room ${roomId}: ${errorText(err)}`);
  }
}

/** A presence event; about me, a kick or ban leaves the room and a new role changes what the header offers. */
function memberChanged(roomId, presence) {
  if (presence && isMe(presence.user) && GONE.has(presence.event) && presence.event !== "leave") {
    removedFromRoom(roomId, presence);
    return;
  }
  presenceChanged(roomId, presence);
  if (presence && isMe(presence.user) && roomId === state.activeRoomId) renderRoomHeader();
}

/** chat.room.<id>.update: new settings (title, topic, read-only, slow mode) shown at once. */
function roomUpdated(roomId, room) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !room) return;
  roomState.room = { ...roomState.room, ...room };
  renderRoomList();
  if (roomId === state.activeRoomId) renderRoomHeader();
}

/** A room the page now knows of (created, announced, a DM opened): listed and followed. */
export function addRoom(room) {
  if (!state.rooms.has(room.id)) state.rooms.set(room.id, new RoomState(room));
  else state.rooms.get(room.id).room = { ...state.rooms.get(room.id).room, ...room };
  subscribeRoom(connection.session, room.id);
  renderRoomList();
  return state.rooms.get(room.id);
}

/** chat.rooms: a room was created (or made visible) for everyone. */
export function roomAnnounced(event) {
  if (event && event.room) addRoom(event.room);
}

/** chat.user.<me>.notify: I was invited to a room, or mentioned in one. */
export function personalNotice(event) {
  if (event && event.event === "report" && event.report) {
    const known = state.rooms.get(event.report.room);
    showNotice(`New report in ${known ? roomLabel(known.room) : event.report.room}: ${event.report.reason}`);
    return;
  }
  if (!event || !event.room) return;
  const roomId = typeof event.room === "string" ? event.room : event.room.id;
  if (event.event === "kicked" || event.event === "banned") { removedFromRoom(roomId, event); return; }
  if (event.event === "muted" || event.event === "unmuted") { mutedNotice(roomId, event); return; }
  addRoom(event.room);
  if (event.event === "invited") showNotice(`You were invited to ${roomLabel(event.room)}.`);
  // A mention also comes as the room's message event; whichever is first shows it, the other is "same".
  if (event.event === "mention" && event.message) messageArrived(event.room.id, event.message, true);
}

function mutedNotice(roomId, event) {
  const known = state.rooms.get(roomId);
  const where = known ? roomLabel(known.room) : roomId;
  const until = event.until ? ` until ${new Date(event.until).toLocaleString()}` : "";
  showNotice(event.event === "muted" ? `You were muted in ${where} by ${event.by}${until}.`
    : `You may speak again in ${where}.`);
}

export async function createRoom(event) {
  event.preventDefault();
  const roomId = $("new-room-id").value.trim();
  const title = $("new-room-title").value.trim();
  const isPrivate = $("new-room-private").checked;
  const room = await connection.call("chat.room.create", [roomId], { title: title || roomId, private: isPrivate });
  $("create-room-form").reset();
  addRoom(room);
  await openRoom(room.id);
}

export async function leaveRoom() {
  const roomId = state.activeRoomId;
  if (!roomId) return;
  await connection.call("chat.room.leave", [roomId]);
  state.activeRoomId = null;
  sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  state.rooms.delete(roomId);
  await refreshRooms(connection.session);
  showNotice(`You left ${roomId}.`);
}

export async function invite(event) {
  event.preventDefault();
  const username = $("invite-username").value.trim();
  await connection.call("chat.room.invite", [state.activeRoomId, username]);
  $("invite-username").value = "";
  showNotice(`Invited ${username}.`);
}

export async function openDirectMessage(username) {
  const room = await connection.call("chat.dm.open", [username]);
  addRoom(room);
  await openRoom(room.id);
}
