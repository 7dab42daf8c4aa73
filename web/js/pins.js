// Pins (API chat.message.pin, chat.room.pins): a Pin / Unpin toolbar action on
// messages where I may pin (moderator+ in a room, any member in a DM), a
// "Pins N" button in the room header opening a side panel of the pinned
// messages, all kept current by the chat.room.<id>.pin events.

import { errorText } from "./connection.js";
import { formatText } from "./format.js";
import { hooks } from "./message_hooks.js";
import { fileParts, openImage } from "./message_files.js";
import { addMessageAction } from "./message_toolbar.js";
import { $, connection, guarded, view } from "./page.js";
import { el, formatTime } from "./render.js";
import { showMessage } from "./replies.js";
import { isDm, isModeratorPlus } from "./roles.js";
import { closePanel, openPanel, wirePanel } from "./side_panel.js";
import { isMe, state } from "./state.js";

let shownRoomId = null;   // the room whose pins the panel shows, while it is open

const pinnedIds = (roomState) => (roomState && roomState.room.pinned) || [];
const isPinned = (roomState, id) => pinnedIds(roomState).includes(id);

/** Moderator+ pin in a room; in a DM (or group DM) any member does. */
export function mayPin(roomState) {
  if (!roomState || !state.me) return false;
  if (isDm(roomState.room)) return roomState.room.member !== false;
  return isModeratorPlus(roomState);
}

/** The toolbar's Pin / Unpin action (after Edit and Delete, before Report). */
const PIN_ACTION = {
  action: "pin",
  label: (message) => (isPinned(state.rooms.get(message.room), message.id) ? "Unpin" : "Pin"),
  order: 40,
  show: (message) => mayPin(state.rooms.get(message.room)),
  run: ({ roomId, message }) => togglePin(roomId, message.id),
};

function pinnedBadge(message) {
  return isPinned(state.rooms.get(message.room), message.id) ? [el("div", "pinned-badge", "Pinned")] : [];
}

async function togglePin(roomId, messageId) {
  const on = !isPinned(state.rooms.get(roomId), messageId);
  const room = await connection.call("chat.message.pin", [roomId, messageId], { on });
  setPinned(roomId, room.pinned || []);
}

/** The room's pinned ids changed: redraw the messages whose state changed, the count and the panel. */
function setPinned(roomId, pinned) {
  const roomState = state.rooms.get(roomId);
  if (!roomState) return;
  const before = new Set(pinnedIds(roomState));
  roomState.room = { ...roomState.room, pinned };
  if (roomId !== state.activeRoomId) return;
  const changed = [...before, ...pinned].filter((id) => before.has(id) !== pinned.includes(id));
  for (const id of changed) if (roomState.log.get(id)) view.upsert(roomState.log.get(id));
  renderCount(roomState);
  if (shownRoomId === roomId) guarded(loadPins)();
}

/** chat.room.<id>.pin {room, id, on, by}. */
function pinEvent(roomId, event) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !event) return;
  const rest = pinnedIds(roomState).filter((id) => id !== event.id);
  setPinned(roomId, event.on ? [event.id, ...rest] : rest);
}

function renderCount(roomState) {
  const count = pinnedIds(roomState).length;
  $("pin-count").textContent = String(count);
  $("pins-button").title = count === 1 ? "1 pinned message" : `${count} pinned messages`;
}

async function openPins() {
  shownRoomId = state.activeRoomId;
  $("pins-list").replaceChildren();
  $("pins-status").textContent = "Loading…";
  $("pins-button").setAttribute("aria-expanded", "true");
  openPanel($("pins-panel"));
  await loadPins();
}

async function loadPins() {
  const roomId = shownRoomId;
  if (!roomId) return;
  try {
    const messages = await connection.call("chat.room.pins", [roomId]);
    if (shownRoomId !== roomId) return;
    $("pins-list").replaceChildren(...messages.map((m) => pinItem(m, state.rooms.get(roomId))));
    $("pins-status").textContent = messages.length ? "" : "Nothing is pinned here yet.";
  } catch (err) {
    $("pins-status").textContent = `Cannot list the pins: ${errorText(err)}`;
  }
}

function pinItem(message, roomState) {
  const item = el("li", "thread-message pinned-item");
  item.dataset.id = message.id;
  const meta = el("div", "meta");
  meta.append(el("span", "author", message.nick || message.user), el("span", "time", formatTime(message.ts)));
  const text = el("div", "text");
  text.append(formatText(message.text, { mentions: message.mentions || [], isMe }));
  const buttons = el("div", "actions");
  buttons.append(panelButton("Show in the room", "show-pinned"));
  if (mayPin(roomState)) buttons.append(panelButton("Unpin", "unpin"));
  item.append(meta, text, ...fileParts(message), buttons);
  return item;
}

function panelButton(label, action) {
  const button = el("button", "secondary", label);
  button.type = "button";
  button.dataset.action = action;
  return button;
}

function closePins() {
  shownRoomId = null;
  $("pins-button").setAttribute("aria-expanded", "false");
}

async function onPinsClick(event) {
  const button = event.target.closest("button[data-action]");
  const item = event.target.closest("li[data-id]");
  if (!button || !item) return;
  if (button.dataset.action === "open-image") await openImage(button);
  if (button.dataset.action === "show-pinned") showMessage(item.dataset.id);
  if (button.dataset.action === "unpin") await togglePin(shownRoomId, item.dataset.id);
}

export function wirePins() {
  hooks.beforeText.push(pinnedBadge);
  addMessageAction(PIN_ACTION);
  hooks.roomEvents.push((roomId) => ({ pin: ([event]) => pinEvent(roomId, event) }));
  hooks.roomShown.push((roomState) => {
    if (roomState) renderCount(roomState);
    if (shownRoomId && (!roomState || roomState.room.id !== shownRoomId)) closePanel($("pins-panel"), false);
  });
  wirePanel($("pins-panel"), closePins);
  $("pins-button").addEventListener("click", guarded(() => {
    if (!$("pins-panel").hidden) { closePanel($("pins-panel")); return null; }
    return openPins();
  }));
  $("pins-list").addEventListener("click", guarded(onPinsClick));
}
