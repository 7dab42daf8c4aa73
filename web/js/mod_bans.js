// The moderation panel's room bans: who, by whom, why, until when, each
// with an Unban button (chat.room.bans, chat.room.unban).

import { errorText } from "./connection.js";
import { $, connection } from "./page.js";
import { el, formatTime } from "./render.js";

let banRoom = null;

function banItem(ban) {
  const item = el("li", "panel-item row");
  item.dataset.user = ban.user;
  const until = ban.until ? `until ${formatTime(ban.until)}` : "permanently";
  const text = el("div", "ban-what", `${ban.user}, banned by ${ban.by} ${until}${ban.reason ? `: ${ban.reason}` : ""}`);
  const unban = el("button", "secondary", "Unban");
  unban.type = "button";
  unban.dataset.action = "unban";
  unban.setAttribute("aria-label", `Unban ${ban.user}`);
  item.append(text, unban);
  return item;
}

/** Show the bans of `room`. */
export async function loadBans(room) {
  banRoom = room;
  $("ban-list").replaceChildren();
  if (!room) { $("bans-status").textContent = "Open a room to see its bans."; return; }
  try {
    const bans = await connection.call("chat.room.bans", [room]);
    $("ban-list").replaceChildren(...bans.map(banItem));
    $("bans-status").textContent = bans.length ? "" : "Nobody is banned from this room.";
  } catch (err) {
    $("bans-status").textContent = `Bans are not available: ${errorText(err)}`;
  }
}

async function unban(event) {
  const button = event.target.closest("button[data-action=unban]");
  if (!button) return;
  const user = button.closest("li").dataset.user;
  try {
    await connection.call("chat.room.unban", [banRoom, user]);
    button.closest("li").remove();
    $("bans-status").textContent = `${user} was unbanned.`;
  } catch (err) {
    $("bans-status").textContent = `Could not unban: ${errorText(err)}`;
  }
}

export function wireBans() {
  $("ban-list").addEventListener("click", unban);
}
