// The open room's member list and presence: who joined, left (or was kicked
// or banned), went on- or offline, got another room role or was muted.
// Members also feed @-completion (composer.js) and "Seen by" (reads.js).

import { memberItem } from "./member_item.js";
import { $ } from "./page.js";
import { renderSeen } from "./reads.js";
import { mayActOn, roleOf } from "./roles.js";
import { state } from "./state.js";
import { clearTyping } from "./typing.js";

/** Presence events after which someone is no longer a member. */
export const GONE = new Set(["leave", "kick", "ban"]);

/** How a presence event changes what we know of a member (null: they are gone). */
function changedMember(member, presence) {
  const nick = presence.nick || member.nick;
  switch (presence.event) {
    case "join": return { ...member, nick, online: true, role: member.role || "member" };
    case "online": return { ...member, nick, online: true };
    case "offline": return { ...member, nick, online: false };
    case "role": return { ...member, nick, role: presence.role || "member" };
    case "mute": return { ...member, nick, muted: true };
    case "unmute": return { ...member, nick, muted: false };
    default: return GONE.has(presence.event) ? null : member;
  }
}

export function presenceChanged(roomId, presence) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !presence) return;
  const known = roomState.members.get(presence.user) || { user: presence.user, nick: presence.nick, online: false };
  const member = changedMember(known, presence);
  if (member) roomState.members.set(presence.user, member);
  else roomState.members.delete(presence.user);
  if (presence.event === "offline" || !member) clearTyping(roomId, presence.user);
  if (roomId === state.activeRoomId) { renderMembers(); renderSeen(); }
}

export function renderMembers() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  const members = [...roomState.members.values()].sort((a, b) =>
    (b.online - a.online) || (a.nick || a.user).localeCompare(b.nick || b.user));
  const list = $("member-list");
  const focused = focusInList(list);
  list.replaceChildren(...members.map((m) => memberItem(m, {
    isMe: state.myUserIds.has(m.user), role: roleOf(roomState, m.user), mayAct: mayActOn(roomState, m.user),
  })));
  if (focused) refocus(list, focused);
}

/** The member and control keyboard focus is on in `list` (a re-render replaces every element). */
function focusInList(list) {
  const active = document.activeElement;
  if (!active || !list.contains(active)) return null;
  const item = active.closest("li[data-user]");
  return item ? { user: item.dataset.user, action: active.dataset.action } : null;
}

/** Put the focus back on the same member's same control in the new list (or on its row's first control). */
function refocus(list, { user, action }) {
  const item = [...list.children].find((li) => li.dataset.user === user);
  if (!item) return;
  const control = (action && item.querySelector(`[data-action="${action}"]`)) || item.querySelector("button, a");
  if (control) control.focus();
}
