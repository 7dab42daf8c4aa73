// Threads (API chat.message.thread): "N replies" under a chain's first
// message (and a Thread toolbar action on every message of a chain) opens a
// side panel with the chain, oldest first, and a composer that replies into it. The .message events add new replies to the open
// panel and the .thread events keep every "N replies" count current.

import { errorText } from "./connection.js";
import { formatText } from "./format.js";
import { compareIds } from "./messages.js";
import { hooks } from "./message_hooks.js";
import { fileParts, openImage } from "./message_files.js";
import { addMessageAction } from "./message_toolbar.js";
import { $, connection, guarded, view } from "./page.js";
import { el, formatTime } from "./render.js";
import { closePanel, openPanel, wirePanel } from "./side_panel.js";
import { isMe, state } from "./state.js";
import { messageArrived } from "./timeline.js";

const PAGE = 50;
let thread = null;   // {roomId, rootId, messages: Map id -> Message, more}

const repliesText = (n) => (n === 1 ? "1 reply" : `${n} replies`);

/** "N replies" under a chain's first message. */
function threadLink(message) {
  if (!message.replies) return [];
  const button = el("button", "thread-link", repliesText(message.replies));
  button.type = "button";
  button.dataset.action = "open-thread";
  button.setAttribute("aria-label", `${repliesText(message.replies)}: open the thread`);
  return [button];
}

/** Open the thread panel on the chain of `rootId` (a reply's id reads its chain too). */
export async function openThread(roomId, rootId) {
  thread = { roomId, rootId, messages: new Map(), more: false };
  $("thread-list").replaceChildren();
  $("thread-status").textContent = "Loading the thread…";
  openPanel($("thread-panel"), {
    returnFocus: () => view.item(rootId) && view.item(rootId).querySelector("[data-action=open-thread]"),
  });
  await loadPage(null);
}

async function loadPage(after) {
  const asked = thread;
  try {
    const page = await connection.call("chat.message.thread", [asked.roomId, asked.rootId], after ? { after, limit: PAGE } : { limit: PAGE });
    if (thread !== asked) return;
    thread.rootId = page.root.id;
    for (const message of [page.root, ...page.messages]) thread.messages.set(message.id, message);
    thread.more = !!page.more;
    renderThread();
  } catch (err) {
    if (thread === asked) $("thread-status").textContent = `Cannot show the thread: ${errorText(err)}`;
  }
}

function renderThread() {
  const ordered = [...thread.messages.values()].sort((a, b) => compareIds(a.id, b.id));
  $("thread-list").replaceChildren(...ordered.map(threadItem));
  const replies = ordered.length - 1;
  $("thread-heading").textContent = `Thread: ${repliesText(replies)}`;
  $("thread-status").textContent = "";
  $("thread-more").hidden = !thread.more;
}

/** One message of the thread: who, when, the text and its files. */
function threadItem(message) {
  const item = el("li", "thread-message");
  item.dataset.id = message.id;
  item.classList.toggle("own", isMe(message.user));
  const meta = el("div", "meta");
  const time = el("time", "time", formatTime(message.ts));
  time.setAttribute("datetime", new Date(message.ts).toISOString());
  meta.append(el("span", "author", message.nick || message.user), time);
  const text = el("div", "text");
  if (message.deleted) text.textContent = "message deleted";
  else text.append(formatText(message.text, { mentions: message.mentions || [], isMe }));
  item.append(meta, text);
  if (!message.deleted) item.append(...fileParts(message));
  return item;
}

/** A message reached the page: a reply of the open chain joins the panel (unless later pages are still unread). */
function messageArrivedHere(roomId, message) {
  if (!thread || roomId !== thread.roomId || !message) return;
  const inChain = message.id === thread.rootId || message.thread === thread.rootId || thread.messages.has(message.id);
  if (!inChain) return;
  const newest = [...thread.messages.keys()].sort(compareIds).pop();
  if (thread.more && newest && compareIds(message.id, newest) > 0) return;
  thread.messages.set(message.id, message);
  renderThread();
}

/** chat.room.<id>.thread: the chain's first message has a new count. */
function threadChanged(roomId, event) {
  const roomState = state.rooms.get(roomId);
  const known = roomState && event && roomState.log.get(event.id);
  if (!known) return;
  roomState.log.byId.set(event.id, { ...known, replies: event.replies, last_reply: event.last_reply });
  if (roomId === state.activeRoomId) view.upsert(roomState.log.get(event.id));
}

async function replyInThread() {
  const text = $("thread-input").value;
  if (!thread || !text.trim()) return;
  const { roomId, rootId } = thread;
  $("thread-input").value = "";
  try {
    const message = await connection.call("chat.message.send", [roomId, text], { reply_to: rootId });
    messageArrived(roomId, message, false);
  } catch (err) {
    $("thread-input").value = text;
    $("thread-status").textContent = `Not sent: ${errorText(err)}`;
  }
}

function closeThread() {
  closePanel($("thread-panel"), false);
}

export function wireThreads() {
  hooks.afterText.push(threadLink);
  addMessageAction({ action: "open-thread", run: ({ roomId, message }) => openThread(roomId, message.id) });
  addMessageAction({ action: "thread", label: "Thread", order: 16, show: (message) => !!(message.thread || message.replies),
    run: ({ roomId, message }) => openThread(roomId, message.thread || message.id) });
  hooks.arrived.push(messageArrivedHere);
  hooks.roomEvents.push((roomId) => ({ thread: ([event]) => threadChanged(roomId, event) }));
  hooks.roomShown.push((roomState) => { if (thread && (!roomState || roomState.room.id !== thread.roomId)) closeThread(); });
  wirePanel($("thread-panel"), () => { thread = null; });
  const reply = guarded(replyInThread);
  $("thread-composer").addEventListener("submit", (event) => { event.preventDefault(); reply(); });
  $("thread-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); $("thread-composer").requestSubmit(); }
  });
  $("thread-more").addEventListener("click", guarded(() => {
    const newest = [...thread.messages.keys()].sort(compareIds).pop();
    return loadPage(newest);
  }));
  $("thread-list").addEventListener("click", guarded((event) => {
    const button = event.target.closest("button[data-action=open-image]");
    if (button) return openImage(button);
  }));
}
