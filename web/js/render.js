// DOM builders. User data only ever goes in through textContent or
// attributes set with setAttribute/dataset: never innerHTML. Message text
// is formatted by format.js, which builds nodes the same way.

import { avatar } from "./avatar.js";
import { formatText } from "./format.js";
import { hooks, messageParts } from "./message_hooks.js";
import { messageToolbar, toolbarButton } from "./message_toolbar.js";

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
 * The list item of one message. `view` says whose it is: {own, isMe(user)}. Its layout:
 *   li.message[data-id, data-user, data-ts] (+ .grouped when it continues the author's run: grouping.js)
 *     .gutter   the avatar (or, grouped, the time shown on hover/focus)
 *     .body     .meta (name, time, edited; visually hidden when grouped),
 *               message_hooks.js beforeText parts (a reply's quote, the Pinned mark), .text,
 *               .message-extras (hooks.afterText parts under the text: files, "N replies"),
 *               .reactions
 *     .actions  the toolbar (message_toolbar.js: other modules add buttons there)
 */
export function messageItem(message, view) {
  const item = el("li", "message");
  item.dataset.id = message.id;
  fillMessageItem(item, message, view);
  return item;
}

/** (Re)draw a message item in place, e.g. after an edit, a delete or a reaction. */
export function fillMessageItem(item, message, { own, isMe }) {
  const grouped = item.classList.contains("grouped");
  item.replaceChildren();
  const mentions = message.deleted ? [] : message.mentions || [];
  const mentionsMe = mentions.some((user) => isMe(user));
  item.classList.toggle("own", own);
  item.classList.toggle("deleted", !!message.deleted);
  item.classList.toggle("mentions-me", mentionsMe && !own);
  item.classList.toggle("grouped", grouped);
  item.dataset.user = message.user;
  item.dataset.ts = String(message.ts);

  const text = el("div", "text");
  if (message.deleted) text.textContent = "message deleted";
  else text.append(formatText(message.text, { mentions, isMe }));
  const body = el("div", "body");
  const above = message.deleted ? [] : messageParts(hooks.beforeText, message);
  body.append(messageMeta(message, mentionsMe && !own), ...above, text, messageExtras(message));
  item.append(messageGutter(message), body);
  if (message.deleted) return;
  body.append(reactionRow(message, isMe));
  const bar = messageToolbar(message, { own, isMe });
  const react = bar.querySelector("[data-action=react-menu]");
  if (react) react.setAttribute("aria-expanded", "false");
  item.append(bar);
}

/** The gutter: the avatar, or (grouped) the time shown on hover/focus. */
function messageGutter(message) {
  const gutter = el("div", "gutter");
  const shortTime = el("span", "gutter-time", formatTime(message.ts));
  shortTime.setAttribute("aria-hidden", "true");
  shortTime.title = new Date(message.ts).toLocaleString();
  gutter.append(avatar(message.user, message.nick), shortTime);
  return gutter;
}

/** Name, time, "(edited)" and "mentions you" (visually hidden when the message is grouped). */
function messageMeta(message, mentionBadge) {
  const meta = el("div", "meta");
  const author = el("span", "author", message.nick || message.user);
  author.title = message.nick && message.nick !== message.user ? `${message.nick} (${message.user})` : message.user;
  meta.append(author);
  const time = el("time", "time", formatTime(message.ts));
  time.setAttribute("datetime", new Date(message.ts).toISOString());
  time.title = new Date(message.ts).toLocaleString();
  meta.append(time);
  if (message.edited && !message.deleted) meta.append(el("span", "edited", "(edited)"));
  if (mentionBadge) meta.append(el("span", "mention-badge", "mentions you"));
  return meta;
}

/** The container under a message's text for what other modules show there (files, "N replies"). */
function messageExtras(message) {
  const extras = el("div", "message-extras");
  if (!message.deleted) extras.append(...messageParts(hooks.afterText, message));
  return extras;
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
  const menu = item.querySelector("[data-action=react-menu]");
  if (menu) menu.setAttribute("aria-expanded", "true");
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
  return toolbarButton(label, action);
}

/** Swap a message's text for a textarea to edit it (Enter saves, Escape cancels). */
export function showEditBox(item, text) {
  const box = el("textarea", "edit-box");
  box.value = text;
  box.rows = Math.min(6, text.split("\n").length + 1);
  box.setAttribute("aria-label", "Edit the message");
  item.querySelector(".text").replaceWith(box);
  showInlineControls(item, actionButton("Save", "save-edit"), actionButton("Cancel", "cancel-edit"));
  box.focus();
  box.setSelectionRange(text.length, text.length);
  return box;
}

/** Ask "Delete?" under the message (the toolbar only shows on hover or focus; this stays until answered). */
export function showDeleteConfirm(item) {
  showInlineControls(item, el("span", "hint", "Delete this message?"),
    actionButton("Yes, delete", "confirm-delete"), actionButton("No", "cancel-delete"));
  item.querySelector("[data-action=cancel-delete]").focus();
}

function showInlineControls(item, ...controls) {
  const old = item.querySelector(".inline-controls");
  if (old) old.remove();
  const row = el("div", "inline-controls");
  row.append(...controls);
  item.querySelector(".body").append(row);
  const bar = item.querySelector(".actions");
  if (bar) bar.remove();
}

/** A message still on its way to the server (kept by client_msg_id). */
export function pendingItem(pending, me) {
  const item = el("li", "message own pending");
  item.dataset.clientMsgId = pending.clientMsgId;
  const meta = el("div", "meta");
  meta.append(el("span", "author", me.nick || me.user), el("span", "state", pending.failed ? "not sent" : "sending…"));
  const gutter = el("div", "gutter");
  gutter.append(avatar(me.user, me.nick));
  const body = el("div", "body");
  body.append(meta, el("div", "text", pending.text));
  item.append(gutter, body);
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
