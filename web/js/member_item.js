// One member in the members pane: online dot, name, room role badge
// (owner, moderator), muted mark, a DM button for others and, for whoever
// may moderate them, a button opening the member's actions.

import { el } from "./render.js";

/** `view`: {isMe, role, muted, mayAct}. */
export function memberItem(member, { isMe, role, mayAct }) {
  const item = el("li");
  item.dataset.user = member.user;
  item.dataset.role = role;
  item.classList.toggle("online", !!member.online);
  item.append(el("span", "dot"));
  const nick = member.nick || member.user;
  const name = el("span", "member-name");
  name.append(el("span", "member-nick", nick));
  if (nick !== member.user) name.append(el("span", "member-id", member.user));
  name.title = nick !== member.user ? `${nick} (${member.user})` : nick;   // the whole name, when cut short
  item.append(name);
  if (role !== "member") item.append(el("span", `role-badge ${role}`, role));
  if (member.muted) item.append(el("span", "role-badge muted", "muted"));
  if (isMe) {
    item.append(el("span", "hint", "you"));
  } else {
    const dm = el("button", "secondary dm", "Message");
    dm.type = "button";
    dm.dataset.action = "dm";
    dm.setAttribute("aria-label", `Message ${nick}`);
    item.append(dm);
  }
  if (mayAct) {
    const actions = el("button", "secondary member-actions", "⋯");
    actions.type = "button";
    actions.dataset.action = "member-actions";
    actions.setAttribute("aria-haspopup", "dialog");
    actions.setAttribute("aria-label", `Moderate ${nick}`);
    actions.title = `Moderate ${nick}`;
    item.append(actions);
  }
  item.title = member.online ? "online" : "offline";
  return item;
}
