// The buttons on a message in the open room: reactions (a quick one, the
// picker), editing my message in place, deleting it after a confirm, and
// reporting someone else's.

import { connection, view } from "./page.js";
import { runMessageAction } from "./message_hooks.js";
import { openReportDialog } from "./report.js";
import { hideReactionPicker, showDeleteConfirm, showEditBox, showReactionPicker } from "./render.js";
import { isMe, state } from "./state.js";
import { messageArrived, messageDeleted } from "./timeline.js";

/** Edit and delete buttons on own messages (one listener for the whole list). */
export async function onMessageAction(event) {
  const button = event.target.closest("button[data-action]");
  const item = event.target.closest("li.message");
  if (!button || !item) return;
  const roomId = state.activeRoomId;
  const message = state.rooms.get(roomId).log.get(item.dataset.id);
  switch (button.dataset.action) {
    case "react": await toggleReaction(roomId, message.id, button.dataset.emoji); break;
    case "react-menu":
      if (item.querySelector(".reaction-picker")) hideReactionPicker(item);
      else showReactionPicker(item).focus();
      break;
    case "react-pick": {
      hideReactionPicker(item);
      const mine = ((message.reactions || {})[button.dataset.emoji] || []).some(isMe);
      if (!mine) await toggleReaction(roomId, message.id, button.dataset.emoji);
      const add = view.item(message.id) && view.item(message.id).querySelector("[data-action=react-menu]");
      if (add) add.focus();
      break;
    }
    case "edit": {
      const box = showEditBox(item, message.text);
      box.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); saveEdit(roomId, message, box.value); }
        if (e.key === "Escape") view.upsert(message);
      });
      break;
    }
    case "save-edit": await saveEdit(roomId, message, item.querySelector(".edit-box").value); break;
    case "cancel-edit": view.upsert(message); break;
    case "delete": showDeleteConfirm(item); break;
    case "report": openReportDialog(roomId, message); break;
    case "cancel-delete": view.upsert(message); break;
    case "confirm-delete":
      await connection.call("chat.message.delete", [roomId, message.id]);
      messageDeleted(roomId, message.id);
      break;
    default: await runMessageAction(button.dataset.action, { roomId, message, item, button });
  }
}

async function saveEdit(roomId, message, text) {
  if (!text.trim() || text === message.text) { view.upsert(state.rooms.get(roomId).log.get(message.id)); return; }
  const edited = await connection.call("chat.message.edit", [roomId, message.id, text]);
  messageArrived(roomId, edited, false);
  view.upsert(state.rooms.get(roomId).log.get(message.id));
}

/** Toggle my reaction on a message; the answer carries every reaction, so the message is redrawn from it. */
async function toggleReaction(roomId, messageId, emoji) {
  const roomState = state.rooms.get(roomId);
  const message = roomState && roomState.log.get(messageId);
  if (!message) return;
  const on = !((message.reactions || {})[emoji] || []).some(isMe);
  const updated = await connection.call("chat.message.react", [roomId, messageId, emoji], { on });
  messageArrived(roomId, updated, false);
}
