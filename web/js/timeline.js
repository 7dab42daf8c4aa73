// A room's messages as they reach the page, from a live event, a history page
// or a send result: each lands once in its room's log, is drawn if the room
// is open, counts as unread (or a mention) if not, and takes the place of my
// pending copy of it. Deletes and reactions land here too.

import { notifyMessage } from "./desktop_notify.js";
import { hooks, notify } from "./message_hooks.js";
import { $, notifier, view } from "./page.js";
import { markRead, renderSeen } from "./reads.js";
import { renderRoomList, roomLabel } from "./room_list.js";
import { isMe, state } from "./state.js";
import { clearTyping } from "./typing.js";

/** A message from an event, a history page or a send result; shown once however often it comes. */
export function messageArrived(roomId, message, live) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !message) return;
  const change = roomState.log.put(message);
  if (message.client_msg_id) dropPending(message.client_msg_id);
  if (change === "same") return;
  notify(hooks.arrived, roomId, roomState.log.get(message.id));
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
  notifyMessage(roomState.room, roomLabel(roomState.room), message, mentionsMe);
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
export function reactionChanged(roomId, reaction) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !reaction || !roomState.log.applyReaction(reaction.id, reaction.emoji, reaction.user, reaction.on)) return;
  if (roomId === state.activeRoomId) view.upsert(roomState.log.get(reaction.id));
}

export function messageDeleted(roomId, messageId) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !roomState.log.markDeleted(messageId)) return;
  if (roomId === state.activeRoomId) view.upsert(roomState.log.get(messageId));
}

/** My message reached the server (it came back with its client_msg_id): it is no longer pending. */
export function dropPending(clientMsgId) {
  const before = state.pending.length;
  state.pending = state.pending.filter((p) => p.clientMsgId !== clientMsgId);
  if (state.pending.length !== before) renderPending();
}

/** My messages to the open room that the server has not confirmed yet, under its list. */
export function renderPending() {
  if (!state.me) return;
  view.showPending(state.pending.filter((p) => p.roomId === state.activeRoomId), state.me);
}
