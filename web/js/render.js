// DOM builders. User data only ever goes in through textContent or
// attributes set with setAttribute/dataset: never innerHTML.

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

/** The list item of one message; `own` adds the edit/delete buttons. */
export function messageItem(message, own) {
  const item = el("li", "message");
  item.dataset.id = message.id;
  fillMessageItem(item, message, own);
  return item;
}

/** (Re)draw a message item in place, e.g. after an edit or delete. */
export function fillMessageItem(item, message, own) {
  item.replaceChildren();
  item.classList.toggle("own", own);
  item.classList.toggle("deleted", !!message.deleted);
  item.dataset.user = message.user;

  const meta = el("div", "meta");
  meta.append(el("span", "author", message.nick || message.user));
  const time = el("time", "time", formatTime(message.ts));
  time.setAttribute("datetime", new Date(message.ts).toISOString());
  time.title = new Date(message.ts).toLocaleString();
  meta.append(time);
  if (message.edited && !message.deleted) meta.append(el("span", "edited", "(edited)"));
  item.append(meta);

  item.append(el("div", "text", message.deleted ? "message deleted" : message.text));

  if (own && !message.deleted) {
    const actions = el("div", "actions");
    actions.append(actionButton("Edit", "edit"), actionButton("Delete", "delete"));
    item.append(actions);
  }
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

/** One room in the sidebar, with its unread count. */
export function roomItem(room, label, unread, active) {
  const item = el("li");
  item.dataset.roomId = room.id;
  item.classList.toggle("active", active);
  item.classList.toggle("not-member", room.member === false);
  const button = el("button");
  button.type = "button";
  const icon = room.id.startsWith("dm_") ? "@" : room.private ? "🔒" : "#";
  const name = el("span", "room-label");
  name.append(el("span", "room-icon", icon), el("span", "room-name", label));
  name.firstChild.setAttribute("aria-hidden", "true");
  button.append(name);
  const badge = el("span", "unread", unread > 99 ? "99+" : String(unread));
  badge.hidden = !unread;
  button.append(badge);
  item.append(button);
  return item;
}

/** One member in the members pane: online dot, name, and a DM button for others. */
export function memberItem(member, isMe) {
  const item = el("li");
  item.dataset.user = member.user;
  item.classList.toggle("online", !!member.online);
  item.append(el("span", "dot"));
  const name = el("span", "member-name", member.nick || member.user);
  if (member.nick && member.nick !== member.user) name.append(el("span", "member-id", member.user));
  item.append(name);
  if (isMe) {
    item.append(el("span", "hint", "you"));
  } else {
    const dm = el("button", "secondary dm", "Message");
    dm.type = "button";
    dm.dataset.action = "dm";
    item.append(dm);
  }
  item.title = member.online ? "online" : "offline";
  return item;
}

/** "Ann is typing…", "Ann and Bob are typing…", "Several people are typing…". */
export function typingText(nicks) {
  if (nicks.length === 0) return "";
  if (nicks.length === 1) return `${nicks[0]} is typing…`;
  if (nicks.length === 2) return `${nicks[0]} and ${nicks[1]} are typing…`;
  return "Several people are typing…";
}
