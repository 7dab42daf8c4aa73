// DOM builders. User data only ever goes in through textContent or
// attributes set with setAttribute/dataset: never innerHTML. Message text
// is formatted by format.js, which builds nodes the same way.

import { formatText } from "./format.js";
import { hooks, messageParts } from "./message_hooks.js";

/** A new element with a class and, optionally, text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** "14:05" today, "Mar 3 14:05" on other days. */
export function formatTime(ts, now = new Date()) {
  const date = new Date(ts);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

/** Reactions offered by the picker; any other 1..16 characters can come from other clients. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/**
 * The list item of one message. `view` says whose it is: {own, isMe(user)}; own messages get the
 * edit/delete buttons, every message a reaction row.
 */
export function messageItem(message, view) {
  const item = el("li", "message");
  item.dataset.id = message.id;
  fillMessageItem(item, message, view);
  return item;
}

/** (Re)draw a message item in place, e.g. after an edit, a delete or a reaction. */
export function fillMessageItem(item, message, { own, isMe }) {
  item.replaceChildren();
  const mentions = message.deleted ? [] : message.mentions || [];
  const mentionsMe = mentions.some((user) => isMe(user));
  item.classList.toggle("own", own);
  item.classList.toggle("deleted", !!message.deleted);
  item.classList.toggle("mentions-me", mentionsMe && !own);
  item.dataset.user = message.user;

  const meta = el("div", "meta");
  const author = el("span", "author", message.nick || message.user);
  author.title = message.user;
  meta.append(author);
  const time = el("time", "time", formatTime(message.ts));
  time.setAttribute("datetime", new Date(message.ts).toISOString());
  time.title = new Date(message.ts).toLocaleString();
  meta.append(time);
  if (message.edited && !message.deleted) meta.append(el("span", "edited", "(edited)"));
  if (mentionsMe && !own) meta.append(el("span", "mention-badge", "mentions you"));
  item.append(meta);

  if (!message.deleted) item.append(...messageParts(hooks.beforeText, message));
  const text = el("div", "text");
  if (message.deleted) text.textContent = "message deleted";
  else text.append(formatText(message.text, { mentions, isMe }));
  item.append(text);
  if (!message.deleted) item.append(...messageParts(hooks.afterText, message));

  if (!message.deleted) item.append(reactionRow(message, isMe));
  if (message.deleted) return;
  const actions = el("div", "actions");
  if (own) actions.append(actionButton("Edit", "edit"), actionButton("Delete", "delete"));
  else actions.append(actionButton("Report", "report"));
  actions.append(...messageParts(hooks.actions, message, own));
  item.append(actions);
}

/** The reactions under a message: one toggle per emoji (pressed when it is mine) and "add a reaction". */
function reactionRow(message, isMe) {
  const row = el("div", "reactions");
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", "Reactions");
  for (const [emoji, users] of Object.entries(message.reactions || {})) {
    const mine = users.some((user) => isMe(user));
    const chip = el("button", mine ? "reaction mine" : "reaction");
    chip.type = "button";
    chip.dataset.action = "react";
    chip.dataset.emoji = emoji;
    chip.setAttribute("aria-pressed", String(mine));
    chip.setAttribute("aria-label", `${emoji} ${users.length}: ${users.join(", ")}`);
    chip.title = users.join(", ");
    chip.append(el("span", "emoji", emoji), el("span", "count", String(users.length)));
    row.append(chip);
  }
  const add = el("button", "reaction add", "+");
  add.type = "button";
  add.dataset.action = "react-menu";
  add.setAttribute("aria-label", "Add a reaction");
  add.setAttribute("aria-expanded", "false");
  add.title = "Add a reaction";
  row.append(add);
  return row;
}

/** Open the small reaction picker under a message's reaction row; returns its first button. */
export function showReactionPicker(item) {
  const row = item.querySelector(".reactions");
  let picker = item.querySelector(".reaction-picker");
  if (!picker) {
    picker = el("div", "reaction-picker");
    picker.setAttribute("role", "group");
    picker.setAttribute("aria-label", "Pick a reaction");
    for (const emoji of QUICK_REACTIONS) {
      const button = el("button", "secondary", emoji);
      button.type = "button";
      button.dataset.action = "react-pick";
      button.dataset.emoji = emoji;
      button.setAttribute("aria-label", `React with ${emoji}`);
      picker.append(button);
    }
    row.after(picker);
  }
  row.querySelector("[data-action=react-menu]").setAttribute("aria-expanded", "true");
  return picker.querySelector("button");
}

/** Close a message's reaction picker, if it is open. */
export function hideReactionPicker(item) {
  const picker = item.querySelector(".reaction-picker");
  if (picker) picker.remove();
  const add = item.querySelector("[data-action=react-menu]");
  if (add) add.setAttribute("aria-expanded", "false");
}

/** "Seen by Ann and Bob" under a message (read receipts in small rooms and DMs). */
export function seenLine(names) {
  const line = el("div", "seen", `Seen by ${listText(names)}`);
  return line;
}

/** "Ann", "Ann and Bob", "Ann, Bob and Cid". */
export function listText(names) {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

function actionButton(label, action) {
  const button = el("button", `secondary ${action}`, label);
  button.type = "button";
  button.dataset.action = action;
  return button;
}

/** Swap a message's text for a textarea to edit it (Enter saves, Escape cancels). */
export function showEditBox(item, text) {
  const box = el("textarea", "edit-box");
  box.value = text;
  box.rows = Math.min(6, text.split("\n").length + 1);
  item.querySelector(".text").replaceWith(box);
  const actions = item.querySelector(".actions");
  actions.replaceChildren(actionButton("Save", "save-edit"), actionButton("Cancel", "cancel-edit"));
  box.focus();
  box.setSelectionRange(text.length, text.length);
  return box;
}

/** Ask "Delete?" in place of the message's buttons. */
export function showDeleteConfirm(item) {
  const actions = item.querySelector(".actions");
  actions.replaceChildren(el("span", "hint", "Delete this message?"),
    actionButton("Yes, delete", "confirm-delete"), actionButton("No", "cancel-delete"));
}

/** A message still on its way to the server (kept by client_msg_id). */
export function pendingItem(pending, me) {
  const item = el("li", "message own pending");
  item.dataset.clientMsgId = pending.clientMsgId;
  const meta = el("div", "meta");
  meta.append(el("span", "author", me.nick || me.user), el("span", "state", pending.failed ? "not sent" : "sending…"));
  item.append(meta, el("div", "text", pending.text));
  item.classList.toggle("failed", !!pending.failed);
  return item;
}

/** One room in the sidebar, with its unread count and, apart from it, how many of those mention me. */
export function roomItem(room, label, unread, active, mentions = 0) {
  const item = el("li");
  item.dataset.roomId = room.id;
  item.classList.toggle("active", active);
  item.classList.toggle("not-member", room.member === false);
  const button = el("button");
  button.type = "button";
  button.title = label;
  const icon = room.id.startsWith("dm_") ? "@" : room.private ? "🔒" : "#";
  const name = el("span", "room-label");
  name.append(el("span", "room-icon", icon), el("span", "room-name", label));
  name.firstChild.setAttribute("aria-hidden", "true");
  button.append(name);
  const mentionBadge = el("span", "mention-count");
  mentionBadge.append(hiddenText("@", true), document.createTextNode(mentions > 99 ? "99+" : String(mentions)),
    hiddenText(mentions === 1 ? " mention" : " mentions"));
  mentionBadge.hidden = !mentions;
  const badge = el("span", "unread", unread > 99 ? "99+" : String(unread));
  badge.hidden = !unread;
  const badges = el("span", "badges");
  badges.append(mentionBadge, badge);
  button.append(badges);
  item.append(button);
  return item;
}

/** "Ann is typing…", "Ann and Bob are typing…", "Several people are typing…". */
export function typingText(nicks) {
  if (nicks.length === 0) return "";
  if (nicks.length === 1) return `${nicks[0]} is typing…`;
  if (nicks.length === 2) return `${nicks[0]} and ${nicks[1]} are typing…`;
  return "Several people are typing…";
}

/** Text for screen readers only (`visual` true: the other way round, shown but not read out). */
function hiddenText(text, visual = false) {
  const span = el("span", visual ? "" : "visually-hidden", text);
  if (visual) span.setAttribute("aria-hidden", "true");
  return span;
}

/** One search hit: where, who, when and the text, as one button that opens the room at the message. */
export function searchHit(message, roomLabel) {
  const item = el("li");
  const button = el("button", "search-hit");
  button.type = "button";
  button.dataset.roomId = message.room;
  button.dataset.messageId = message.id;
  const meta = el("span", "hit-meta");
  meta.append(el("span", "hit-room", roomLabel), el("span", "author", message.nick || message.user),
    el("span", "time", formatTime(message.ts)));
  button.append(meta, el("span", "hit-text", message.text));
  item.append(button);
  return item;
}

/** One person offered by @-completion. */
export function mentionOption(member, id, active) {
  const option = el("li", active ? "active" : "");
  option.id = id;
  option.setAttribute("role", "option");
  option.setAttribute("aria-selected", String(active));
  option.dataset.user = member.user;
  option.append(el("span", "member-name", member.nick || member.user));
  if (member.nick && member.nick !== member.user) option.append(el("span", "member-id", `@${member.user}`));
  return option;
}
