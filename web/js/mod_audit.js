// The moderation panel's audit log: newest first, a page at a time, with
// "Older entries" for the next page (chat.admin.audit).

import { errorText } from "./connection.js";
import { $, connection } from "./page.js";
import { el, formatTime } from "./render.js";

const PAGE = 20;
let scope = { room: null, before: null };

function entryItem(entry) {
  const item = el("li", "panel-item");
  item.dataset.entryId = String(entry.id);
  const meta = el("div", "panel-meta");
  meta.append(el("span", "", formatTime(entry.ts)));
  if (entry.room) meta.append(el("span", "", `#${entry.room}`));
  const what = [entry.actor, entry.action.replace(/_/g, " "), entry.target].filter(Boolean).join(" ");
  item.append(meta, el("div", "audit-what", what));
  if (entry.reason) item.append(el("div", "panel-reason", entry.reason));
  return item;
}

async function loadPage() {
  const kwargs = { limit: PAGE };
  if (scope.room) kwargs.room = scope.room;
  if (scope.before) kwargs.before = scope.before;
  try {
    const page = await connection.call("chat.admin.audit", [], kwargs);
    $("audit-list").append(...page.entries.map(entryItem));
    if (page.entries.length) scope.before = page.entries[page.entries.length - 1].id;
    $("audit-older").hidden = !page.more;
    $("audit-status").textContent = $("audit-list").children.length ? "" : "Nothing recorded yet.";
  } catch (err) {
    $("audit-older").hidden = true;
    $("audit-status").textContent = `The audit log is not available: ${errorText(err)}`;
  }
}

/** Show the newest entries of `room` (null: every entry the caller may read). */
export function loadAudit(room) {
  scope = { room, before: null };
  $("audit-list").replaceChildren();
  return loadPage();
}

export function wireAudit() {
  $("audit-older").addEventListener("click", loadPage);
}
