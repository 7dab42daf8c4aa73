// Writing and sending: the composer box (its height, @-completion, "typing"),
// and my messages on their way: each keeps its client_msg_id until the server
// has it, is resent after a reconnect, and can be retried by a click when the
// server refused it.

import { MentionCompleter } from "./complete.js";
import { errorText } from "./connection.js";
import { hooks, notify, sendExtras } from "./message_hooks.js";
import { $, connection, showNotice, view } from "./page.js";
import { isMe, state } from "./state.js";
import { dropPending, messageArrived, renderPending } from "./timeline.js";
import { sayTyping, stopTyping } from "./typing.js";

export const completer = new MentionCompleter({
  input: $("composer-input"),
  list: $("mention-options"),
  candidates: () => {
    const roomState = state.rooms.get(state.activeRoomId);
    return roomState ? [...roomState.members.values()].filter((m) => !isMe(m.user)) : [];
  },
});

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function sendComposerText() {
  const text = $("composer-input").value;
  const extras = state.activeRoomId ? sendExtras(state.activeRoomId) : { kwargs: {} };
  if (extras.busy) { showNotice(extras.busy); return; }
  if ((!text.trim() && !extras.kwargs.files) || !state.activeRoomId) return;
  notify(hooks.sent);
  $("composer-input").value = "";
  resizeComposer();
  stopTyping();
  const pending = { clientMsgId: newClientMsgId(), roomId: state.activeRoomId, text, failed: false, inFlight: false,
    kwargs: extras.kwargs };
  state.pending.push(pending);
  renderPending();
  view.scrollToBottom();
  deliver(pending);
}

/** Send (or resend, with the same client_msg_id) a message; kept until the server has it. */
export async function deliver(pending) {
  if (pending.inFlight || !connection.session) return;
  pending.inFlight = true;
  pending.failed = false;
  renderPending();
  try {
    const message = await connection.call("chat.message.send", [pending.roomId, pending.text],
      { ...pending.kwargs, client_msg_id: pending.clientMsgId });
    dropPending(pending.clientMsgId);
    messageArrived(pending.roomId, message, false);
  } catch (err) {
    if (isRefusal(err)) {
      pending.failed = true;
      showNotice(`Not sent: ${errorText(err)} (click the message to retry)`);
    }
    // otherwise the connection went away: it is resent after the reconnect
  } finally {
    pending.inFlight = false;
    renderPending();
  }
}

/** An error the server gave on purpose (resending will not help by itself). */
function isRefusal(err) {
  return !!(err && typeof err.error === "string" &&
    (err.error.startsWith("wampchat.error.") || err.error.startsWith("wamp.error.")) &&
    err.error !== "wamp.error.canceled");
}

export function retryPending(event) {
  const item = event.target.closest("li.pending.failed");
  if (!item) return;
  const pending = state.pending.find((p) => p.clientMsgId === item.dataset.clientMsgId);
  if (pending) deliver(pending);
}

/** The composer's text changed: fit its height, and say "typing" (or stop saying it). */
export function composerChanged() {
  resizeComposer();
  sayTyping();
}

function resizeComposer() {
  const input = $("composer-input");
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight + 2}px`;
}
