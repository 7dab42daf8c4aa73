// The open room's settings dialog for moderator+ (chat.room.update): title,
// topic and slow mode; read-only and retention for the owner and admins.
// Only what changed is sent; the update event redraws every page's header.

import { errorText } from "./connection.js";
import { closeDialog, openDialog, setStatus, wireCloseButtons } from "./dialog.js";
import { $, connection, showNotice } from "./page.js";
import { renderRoomHeader } from "./open_room.js";
import { isModeratorPlus, mayChangeOwnerSettings } from "./roles.js";
import { renderRoomList } from "./room_list.js";
import { state } from "./state.js";

const dialog = () => $("room-settings-dialog");

export function openRoomSettings() {
  const roomState = state.rooms.get(state.activeRoomId);
  if (!isModeratorPlus(roomState)) return;
  const room = roomState.room;
  $("settings-title").value = room.title || room.id;
  $("settings-topic").value = room.topic || "";
  selectValue($("settings-slow-mode"), room.slow_mode || 0);
  $("settings-read-only").checked = !!room.read_only;
  $("settings-retention").value = String(room.retention_days || 0);
  $("owner-settings").hidden = !mayChangeOwnerSettings(roomState);
  openDialog(dialog(), { returnFocus: () => $("room-settings-button") });
}

/** Select `seconds`, adding it as a choice when it is not one (set through the API, say). */
function selectValue(select, seconds) {
  if (![...select.options].some((o) => o.value === String(seconds))) {
    select.add(new Option(`${seconds} seconds`, String(seconds)));
  }
  select.value = String(seconds);
}

/** The fields whose value differs from the room's: the kwargs of chat.room.update. */
function changedSettings(roomState) {
  const room = roomState.room;
  const wanted = {
    title: $("settings-title").value.trim(),
    topic: $("settings-topic").value.trim(),
    slow_mode: Number($("settings-slow-mode").value),
  };
  if (mayChangeOwnerSettings(roomState)) {
    wanted.read_only = $("settings-read-only").checked;
    wanted.retention_days = Number($("settings-retention").value);
  }
  const now = { title: room.title || room.id, topic: room.topic || "", slow_mode: room.slow_mode || 0,
    read_only: !!room.read_only, retention_days: room.retention_days || 0 };
  return Object.fromEntries(Object.entries(wanted).filter(([key, value]) => value !== now[key]));
}

async function saveSettings(event) {
  event.preventDefault();
  const roomState = state.rooms.get(state.activeRoomId);
  if (!roomState) return;
  const changes = changedSettings(roomState);
  if (!Object.keys(changes).length) { closeDialog(dialog()); return; }
  try {
    const room = await connection.call("chat.room.update", [roomState.room.id], changes);
    roomState.room = { ...roomState.room, ...room };
    renderRoomList();
    renderRoomHeader();
    closeDialog(dialog());
    showNotice("Room settings saved.");
  } catch (err) {
    setStatus(dialog(), errorText(err), true);
  }
}

export function wireRoomSettings() {
  wireCloseButtons(dialog());
  $("room-settings-button").addEventListener("click", openRoomSettings);
  $("room-settings-form").addEventListener("submit", saveSettings);
}
