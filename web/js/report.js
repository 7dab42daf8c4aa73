// Reporting someone else's message to the room's moderators (and the
// admins), with a reason: chat.message.report in a small dialog.

import { errorText } from "./connection.js";
import { closeDialog, openDialog, setStatus, wireCloseButtons } from "./dialog.js";
import { $, connection, showNotice, view } from "./page.js";

const dialog = () => $("report-dialog");
let reported = null;   // {roomId, id} of the message the dialog is about

export function openReportDialog(roomId, message) {
  reported = { roomId, id: message.id };
  $("report-form").reset();
  $("report-quote").textContent = `${message.nick || message.user}: ${message.text}`;
  openDialog(dialog(), {
    focus: $("report-reason"),
    returnFocus: () => view.item(message.id) && view.item(message.id).querySelector("[data-action=report]"),
  });
}

async function sendReport(event) {
  event.preventDefault();
  if (!reported) return;
  try {
    await connection.call("chat.message.report", [reported.roomId, reported.id, $("report-reason").value.trim()]);
    closeDialog(dialog());
    showNotice("Thank you: the room's moderators will look at it.");
  } catch (err) {
    setStatus(dialog(), errorText(err), true);
  }
}

export function wireReportDialog() {
  wireCloseButtons(dialog());
  $("report-form").addEventListener("submit", sendReport);
}
