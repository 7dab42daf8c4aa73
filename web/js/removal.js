// When I am kicked or banned from a room (my presence event or my notify
// event, whichever comes first): say so, and leave the room's view.

import { renderActiveRoom } from "./open_room.js";
import { showNotice } from "./page.js";
import { renderRoomList, roomLabel } from "./room_list.js";
import { ACTIVE_ROOM_KEY, state } from "./state.js";

const WORDS = { kick: "kicked from", kicked: "kicked from", ban: "banned from", banned: "banned from" };

/** `event`: a presence {event: kick|ban, by, reason} about me, or a notify {event: kicked|banned, room, by, reason}. */
export function removedFromRoom(roomId, event) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || roomState.room.member === false) return;   // already told
  roomState.room = { ...roomState.room, member: false };
  roomState.members.delete(state.me && state.me.user);
  const by = event.by ? ` by ${event.by}` : "";
  const why = event.reason ? `: ${event.reason}` : "";
  showNotice(`You were ${WORDS[event.event] || "removed from"} ${roomLabel(roomState.room)}${by}${why}.`);
  if (roomState.room.private) state.rooms.delete(roomId);
  if (state.activeRoomId === roomId) {
    state.activeRoomId = null;
    sessionStorage.removeItem(ACTIVE_ROOM_KEY);
  }
  renderRoomList();
  renderActiveRoom();
}
