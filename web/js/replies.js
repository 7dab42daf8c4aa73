// Replies (API "Message" reply_to): a Reply action in each message's toolbar puts
// "Replying to <nick>: <quote>" over the composer (with a cancel button and
// Escape); the next send carries reply_to. A reply shows its quote above its
// text; clicking the quote scrolls to the quoted message when it is loaded.

import { hooks } from "./message_hooks.js";
import { addMessageAction } from "./message_toolbar.js";
import { $, showNotice, view } from "./page.js";
import { el } from "./render.js";
import { state } from "./state.js";

const QUOTE_CHARS = 120;
let replying = null;   // {roomId, message} the composer's next send answers

/** "ann: the first 120 characters…" of what a reply answers (as the server keeps it). */
export function quoteText(quoted) {
  const who = quoted.nick || quoted.user;
  if (!who) return "an earlier message (no longer kept)";
  if (quoted.deleted) return `${who}: message deleted`;
  const text = (quoted.text || "").replace(/\s+/g, " ").trim();
  return `${who}: ${text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text}`;
}

/** The quote above a reply's text: a button that scrolls to the quoted message. */
function quoteParts(message) {
  if (!message.reply_to) return [];
  const button = el("button", "reply-quote");
  button.type = "button";
  button.dataset.action = "goto-quote";
  button.dataset.targetId = message.reply_to.id;
  button.append(el("span", "reply-arrow", "↪"), el("span", "reply-quote-text", quoteText(message.reply_to)));
  button.firstChild.setAttribute("aria-hidden", "true");
  button.setAttribute("aria-label", `In reply to ${quoteText(message.reply_to)} (show it)`);
  return [button];
}

/** Scroll to a message of the open room and focus it, when it is on screen. */
export function showMessage(messageId) {
  const item = view.item(messageId);
  if (!item) { showNotice("That message is not loaded: scroll up to find it."); return false; }
  for (const old of document.querySelectorAll("#message-list .jump-target")) old.classList.remove("jump-target");
  item.classList.add("jump-target");
  item.tabIndex = -1;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
  return true;
}

export function startReply(roomId, message) {
  replying = { roomId, message };
  $("reply-text").textContent = `Replying to ${quoteText(message)}`;
  $("reply-bar").hidden = false;
  $("composer-input").focus();
}

export function cancelReply() {
  replying = null;
  $("reply-bar").hidden = true;
  $("reply-text").textContent = "";
}

export function wireReplies() {
  hooks.beforeText.push(quoteParts);
  addMessageAction({ action: "reply", label: "Reply", order: 15, run: ({ roomId, message }) => startReply(roomId, message) });
  addMessageAction({ action: "goto-quote", run: ({ button }) => { showMessage(button.dataset.targetId); } });
  hooks.sendExtras.push((roomId) => (replying && replying.roomId === roomId ? { kwargs: { reply_to: replying.message.id } } : {}));
  hooks.sent.push(cancelReply);
  hooks.roomShown.push((roomState) => { if (replying && (!roomState || roomState.room.id !== replying.roomId)) cancelReply(); });
  $("reply-cancel").addEventListener("click", () => { cancelReply(); $("composer-input").focus(); });
  $("composer-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && replying && !event.defaultPrevented) { cancelReply(); event.preventDefault(); }
  });
}
