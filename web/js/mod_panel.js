// The moderation panel (admins, and moderator+ of the open room): open
// reports, the audit log and the room's bans, for the open room or, for
// admins who ask, for every room.

import { openDialog, wireCloseButtons } from "./dialog.js";
import { loadAudit, wireAudit } from "./mod_audit.js";
import { loadBans, wireBans } from "./mod_bans.js";
import { loadReports, wireReports } from "./mod_reports.js";
import { $ } from "./page.js";
import { isAdmin, isModeratorPlus } from "./roles.js";
import { roomLabel } from "./room_list.js";
import { state } from "./state.js";

const dialog = () => $("moderation-dialog");

/** Load the panel's three parts for the open room (or every room, for an admin who ticked it). */
function loadAll() {
  const roomState = state.rooms.get(state.activeRoomId);
  const everyRoom = isAdmin() && $("moderation-all-rooms").checked;
  const room = everyRoom || !roomState ? null : roomState.room.id;
  $("moderation-scope").textContent = room ? `In ${roomLabel(roomState.room)}` : "In every room";
  return Promise.all([loadReports(room), loadAudit(room), loadBans(roomState ? roomState.room.id : null)]);
}

export function openModerationPanel() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!isModeratorPlus(roomState) && !isAdmin()) return;
  $("moderation-all-rooms-label").hidden = !isAdmin();
  $("moderation-all-rooms").checked = false;
  openDialog(dialog(), { focus: $("moderation-heading"), returnFocus: () => $("moderation-button") });
  return loadAll();
}

export function wireModerationPanel() {
  wireCloseButtons(dialog());
  wireReports();
  wireAudit();
  wireBans();
  $("moderation-button").addEventListener("click", openModerationPanel);
  $("moderation-all-rooms").addEventListener("change", loadAll);
}
