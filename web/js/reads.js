// Read markers: telling the server how far I read the open room, taking
// others' markers (for "Seen by") and my own from another tab (the room is
// read there), and drawing the "Seen by" lines of small rooms and DMs.

import { compareIds } from "./messages.js";
import { connection, view } from "./page.js";
import { renderRoomList } from "./room_list.js";
import { isMe, state } from "./state.js";

const SEEN_BY_MAX_MEMBERS = 10;   // read receipts in rooms this small, and in DMs

/** Tell the server we read up to the newest message of the open room. */
export function markRead(roomId) {
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
export function readMarkerMoved(roomId, marker) {
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

export function moveReadMarker(roomState, user, messageId) {
  const known = roomState.reads.get(user);
  if (!known || compareIds(messageId, known) > 0) roomState.reads.set(user, messageId);
}

/**
 * Read receipts for the open room, in DMs and rooms of at most SEEN_BY_MAX_MEMBERS: each other member
 * is shown under the newest message (not their own) up to their read marker.
 */
export function renderSeen() {
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
