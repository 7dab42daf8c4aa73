// The sidebar's room and DM lists with their unread counts, and what a room
// is called wherever it is named (sidebar, room header, search hits, notices).

import { $ } from "./page.js";
import { roomItem } from "./render.js";
import { isMe, state } from "./state.js";
import { showUnread } from "./unread_badge.js";

/**
 * What a room is called in the sidebar: its title, or for a DM the other person. A DM's id cannot be
 * decoded (ids with `_` in a name take other forms), but its title is "<a> & <b>", the two usernames.
 */
export function roomLabel(room) {
  if (room.id.startsWith("dm_") && room.title) {
    const pair = room.title.split(" & ");
    if (pair.length === 2 && pair.some(isMe)) return pair.find((user) => !isMe(user)) || pair[0];
    const group = room.title.split(", ");
    if (room.id.startsWith("dm_g") && group.length > 2) return group.filter((user) => !isMe(user)).join(", ");
  }
  return room.title || room.id;
}

export function renderRoomList() {
  const byLabel = [...state.rooms.values()].sort((a, b) => roomLabel(a.room).localeCompare(roomLabel(b.room)));
  const item = (rs) => roomItem(rs.room, roomLabel(rs.room), rs.unread, rs.room.id === state.activeRoomId,
    rs.mentions);
  $("room-list").replaceChildren(...byLabel.filter((rs) => !rs.room.id.startsWith("dm_")).map(item));
  $("dm-list").replaceChildren(...byLabel.filter((rs) => rs.room.id.startsWith("dm_")).map(item));
  const elsewhere = byLabel.reduce((sum, rs) => sum + (rs.room.id === state.activeRoomId ? 0 : rs.unread), 0);
  $("sidebar-unread").textContent = String(elsewhere);
  $("sidebar-unread").hidden = !elsewhere;
  showUnread(byLabel.reduce((sum, rs) => sum + (rs.room.member === false ? rs.mentions : rs.unread), 0));
}
