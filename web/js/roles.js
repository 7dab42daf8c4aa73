// Who may do what in a room (API §8), as the page shows it: room roles
// rank owner > moderator > member; "moderator+" is the room's moderators,
// its owner and server admins; nobody acts on an equal or higher room role
// (admins excepted). The server checks all of it again.

import { isMe, state } from "./state.js";

const RANK = { member: 0, moderator: 1, owner: 2 };

export const isAdmin = () => !!state.me && state.me.role === "admin";

/** A room member's role: the room's creator is its owner; unknown people are members. */
export function roleOf(roomState, user) {
  if (roomState.room.owner === user) return "owner";
  const member = roomState.members.get(user);
  return (member && member.role) || "member";
}

export function myRole(roomState) {
  return state.me ? roleOf(roomState, state.me.user) : "member";
}

/** DMs have no moderators: two (or a few) people, each may leave. */
export const isDm = (room) => !!room.dm || room.id.startsWith("dm_");

export function isModeratorPlus(roomState) {
  if (!roomState || !state.me || state.me.role === "guest" || isDm(roomState.room)) return false;
  return isAdmin() || RANK[myRole(roomState)] >= RANK.moderator;
}

/** The owner and admins make members moderators and back (chat.room.set_role). */
export function mayManageRoles(roomState) {
  return isModeratorPlus(roomState) && (isAdmin() || myRole(roomState) === "owner");
}

/** Read-only and retention are the owner's and admins' settings. */
export const mayChangeOwnerSettings = mayManageRoles;

/** May I kick, ban, mute (or change the role of) this member? */
export function mayActOn(roomState, user) {
  if (isMe(user) || !isModeratorPlus(roomState)) return false;
  return isAdmin() || RANK[myRole(roomState)] > RANK[roleOf(roomState, user)];
}
