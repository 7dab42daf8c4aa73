// The moderation panel's open reports: who reported what and why, each
// resolved with a short note (chat.admin.reports, chat.admin.resolve).

import { errorText } from "./connection.js";
import { $, connection } from "./page.js";
import { el, formatTime } from "./render.js";

/** What was reported: the copy the report keeps, or the message it names. */
function reportedText(report) {
  const message = report.message && typeof report.message === "object" ? report.message : {};
  const who = report.author || message.nick || message.user || "";
  const text = report.text || message.text || "";
  return who ? `${who}: ${text}` : text;
}

function reportItem(report) {
  const item = el("li", "panel-item");
  item.dataset.reportId = String(report.id);
  const meta = el("div", "panel-meta");
  meta.append(el("span", "", `Reported by ${report.reporter}`), el("span", "", formatTime(report.ts)));
  if (report.room) meta.append(el("span", "", `#${report.room}`));
  const form = el("form", "row");
  const fieldId = `resolution-${report.id}`;
  const label = el("label", "visually-hidden", `How report ${report.id} was resolved`);
  label.htmlFor = fieldId;
  const input = el("input");
  input.id = fieldId;
  input.maxLength = 500;
  input.required = true;
  input.placeholder = "What was done";
  const resolve = el("button", "", "Resolve");
  resolve.type = "submit";
  form.append(label, input, resolve);
  item.append(meta, el("blockquote", "quote", reportedText(report)), el("p", "panel-reason", `Reason: ${report.reason}`), form);
  return item;
}

/** Show the open reports of `room` (null: every room the caller may see). */
export async function loadReports(room) {
  $("reports-status").textContent = "Loading…";
  try {
    const reports = await connection.call("chat.admin.reports", [], room ? { room, open: true } : { open: true });
    $("report-list").replaceChildren(...reports.map(reportItem));
    $("reports-status").textContent = reports.length ? "" : "No open reports.";
  } catch (err) {
    $("report-list").replaceChildren();
    $("reports-status").textContent = `Reports are not available: ${errorText(err)}`;
  }
}

async function resolveReport(event) {
  event.preventDefault();
  const item = event.target.closest("li[data-report-id]");
  if (!item) return;
  const resolution = item.querySelector("input").value.trim();
  try {
    await connection.call("chat.admin.resolve", [Number(item.dataset.reportId), resolution]);
    item.remove();
    $("reports-status").textContent = `Report resolved: ${resolution}`;
    if (!$("report-list").children.length) $("report-list").focus();
  } catch (err) {
    $("reports-status").textContent = `Could not resolve: ${errorText(err)}`;
  }
}

export function wireReports() {
  $("report-list").addEventListener("submit", resolveReport);
}
