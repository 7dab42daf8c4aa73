// The page's shared pieces: the element lookup, the one WAMP connection, the
// open room's message list, the background notifier, and the page chrome
// (connection state, passing notices, errors of UI actions).

import { ChatConnection, errorText, webSocketUrl } from "./connection.js";
import { MessageListView } from "./message_view.js";
import { BackgroundNotifier } from "./notify.js";
import { isMe, state } from "./state.js";

export const $ = (id) => document.getElementById(id);

const NOTICE_MS = 4000;

export const notifier = new BackgroundNotifier();
/** app.js sets onOpen and onRefused: what a session or a refused sign-in leads to is the sign-in's business. */
export const connection = new ChatConnection({
  url: webSocketUrl(),
  onState: showConnectionState,
});
export const view = new MessageListView({
  scroller: $("messages"),
  list: $("message-list"),
  pendingList: $("pending-list"),
  isOwn: (message) => state.myUserIds.has(message.user),
  isMe: (user) => isMe(user),
});

function showConnectionState(connState, detail) {
  const labels = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: `Reconnecting${detail && detail.delay ? ` in ${Math.ceil(detail.delay)}s` : ""}…`,
    offline: "Offline",
  };
  $("conn-state").dataset.state = connState;
  $("conn-state").textContent = labels[connState];
}

let noticeTimer = null;
export function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { $("notice").hidden = true; }, NOTICE_MS);
}

export function reportError(err) {
  if (err && err.offline) return;   // the reconnect takes care of it
  console.error(err);
  showNotice(errorText(err));
}

/** Run an async UI action and show its failure instead of losing it. */
export function guarded(action) {
  return (...args) => Promise.resolve().then(() => action(...args)).catch(reportError);
}
