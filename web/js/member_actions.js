// The actions a moderator+ has on one member of the open room, in a dialog:
// make moderator / member (owner and admins), mute for a while, kick with a
// reason, ban with a reason and a duration (chat.room.set_role, mute, unmute,
// kick, ban). Only offered for members of a lower room role (roles.js).

import { errorText } from "./connection.js";
import { closeDialog, openDialog, setStatus, wireCloseButtons } from "./dialog.js";
import { renderMembers } from "./members.js";
import { $, connection, showNotice } from "./page.js";
import { mayActOn, mayManageRoles, roleOf } from "./roles.js";
import { state } from "./state.js";

const dialog = () => $("member-dialog");
let target = null;   // {roomId, user, nick} of the member the dialog is about

/** Open the dialog for `user` in the open room. */
export function openMemberActions(user) {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState || !mayActOn(roomState, user)) return;
  const member = roomState.members.get(user) || { user };
  target = { roomId: roomState.room.id, user, nick: member.nick || user };
  for (const form of dialog().querySelectorAll("form")) form.reset();
  $("member-heading").textContent = `Moderate ${target.nick}`;
  showRoleButtons(roomState, member);
  $("unmute-button").hidden = !member.muted;
  openDialog(dialog(), { returnFocus: () => actionsButtonOf(user) || $("composer-input") });
}

function showRoleButtons(roomState, member) {
  const role = roleOf(roomState, member.user);
  $("member-role-section").hidden = !mayManageRoles(roomState);
  $("member-role-now").textContent = `${target.nick} is a ${role} of this room.`;
  $("make-moderator").hidden = role !== "member" || member.user.startsWith("guest_");
  $("make-member").hidden = role !== "moderator";
}

function actionsButtonOf(user) {
  const item = [...$("member-list").children].find((li) => li.dataset.user === user);
  return item && item.querySelector("[data-action=member-actions]");
}

/** Seconds from a duration <select> ("" = until lifted: no duration sent). */
function duration(select) {
  return select.value ? { duration: Number(select.value) } : {};
}

function reason(input) {
  const text = input.value.trim();
  return text ? { reason: text } : {};
}

/** Run an action on the target, report it in the dialog (or, when `closing`, as a notice after closing). */
function act(run, { closing = false } = {}) {
  return async (event) => {
    if (event) event.preventDefault();
    if (!target) return;
    try {
      const done = await run(target);
      if (closing) { closeDialog(dialog()); showNotice(done); } else setStatus(dialog(), done);
    } catch (err) {
      setStatus(dialog(), errorText(err), true);
    }
  };
}

async function setRole(t, role) {
  await connection.call("chat.room.set_role", [t.roomId, t.user, role]);
  const roomState = state.rooms.get(t.roomId);
  const member = roomState && roomState.members.get(t.user);
  if (member) roomState.members.set(t.user, { ...member, role });
  if (roomState) showRoleButtons(roomState, roomState.members.get(t.user) || { user: t.user });
  renderMembers();
  return `${t.nick} is now a ${role}.`;
}

export function wireMemberActions() {
  wireCloseButtons(dialog());
  $("make-moderator").addEventListener("click", act((t) => setRole(t, "moderator")));
  $("make-member").addEventListener("click", act((t) => setRole(t, "member")));
  $("mute-form").addEventListener("submit", act(async (t) => {
    await connection.call("chat.room.mute", [t.roomId, t.user], duration($("mute-duration")));
    $("unmute-button").hidden = false;
    return `${t.nick} is muted.`;
  }));
  $("unmute-button").addEventListener("click", act(async (t) => {
    await connection.call("chat.room.unmute", [t.roomId, t.user]);
    $("unmute-button").hidden = true;
    return `${t.nick} may speak again.`;
  }));
  $("kick-form").addEventListener("submit", act(async (t) => {
    await connection.call("chat.room.kick", [t.roomId, t.user], reason($("kick-reason")));
    return `${t.nick} was kicked.`;
  }, { closing: true }));
  $("ban-form").addEventListener("submit", act(async (t) => {
    await connection.call("chat.room.ban", [t.roomId, t.user], { ...reason($("ban-reason")), ...duration($("ban-duration")) });
    return `${t.nick} was banned.`;
  }, { closing: true }));
}
