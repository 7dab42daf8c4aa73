// The open room's member list and presence: who joined, left, went on- or
// offline. Members also feed @-completion (composer.js) and "Seen by" (reads.js).

import { $ } from "./page.js";
import { renderSeen } from "./reads.js";
import { memberItem } from "./render.js";
import { state } from "./state.js";
import { clearTyping } from "./typing.js";

export function presenceChanged(roomId, presence) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !presence) return;
  const member = roomState.members.get(presence.user) || { user: presence.user, nick: presence.nick, online: false };
  if (presence.event === "leave") roomState.members.delete(presence.user);
  else roomState.members.set(presence.user, { ...member, nick: presence.nick || member.nick, online: presence.event !== "offline" });
  if (presence.event === "offline" || presence.event === "leave") clearTyping(roomId, presence.user);
  if (roomId === state.activeRoomId) { renderMembers(); renderSeen(); }
}

export function renderMembers() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  const members = [...roomState.members.values()].sort((a, b) =>
    (b.online - a.online) || (a.nick || a.user).localeCompare(b.nick || b.user));
  $("member-list").replaceChildren(...members.map((m) => memberItem(m, state.myUserIds.has(m.user))));
}
