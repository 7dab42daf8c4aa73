// "… is typing", both ways: saying it while my composer changes (repeated
// now and then, stopped when idle), and showing it for others in the open
// room until they stop or it expires.

import { $, connection } from "./page.js";
import { typingText } from "./render.js";
import { state } from "./state.js";

const TYPING_IDLE_MS = 4000;      // stop saying "typing" after this much quiet
const TYPING_REPEAT_MS = 5000;    // repeat "typing" this often while typing
const TYPING_EXPIRE_MS = 8000;    // forget someone's "typing" if not repeated

let typingRoomId = null;
let typingSentAt = 0;
let typingIdleTimer = null;

/** Say "typing" while the composer has text; repeat now and then; stop when idle or empty. */
export function sayTyping() {
  const roomId = state.activeRoomId;
  if (!roomId || !$("composer-input").value.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (typingRoomId !== roomId || now - typingSentAt > TYPING_REPEAT_MS) {
    typingRoomId = roomId;
    typingSentAt = now;
    connection.call("chat.typing", [roomId, true]).catch(() => {});
  }
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping() {
  clearTimeout(typingIdleTimer);
  if (!typingRoomId) return;
  const roomId = typingRoomId;
  typingRoomId = null;
  typingSentAt = 0;
  connection.call("chat.typing", [roomId, false]).catch(() => {});
}

export function typingChanged(roomId, typing) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !typing || state.myUserIds.has(typing.user)) return;
  clearTyping(roomId, typing.user);
  if (typing.typing) {
    const timer = setTimeout(() => clearTyping(roomId, typing.user), TYPING_EXPIRE_MS);
    roomState.typing.set(typing.user, { nick: typing.nick || typing.user, timer });
  }
  if (roomId === state.activeRoomId) renderTyping();
}

export function clearTyping(roomId, user) {
  const roomState = state.rooms.get(roomId);
  const entry = roomState && roomState.typing.get(user);
  if (!entry) return;
  clearTimeout(entry.timer);
  roomState.typing.delete(user);
  if (roomId === state.activeRoomId) renderTyping();
}

export function renderTyping() {
  const roomState = state.rooms.get(state.activeRoomId);
  const nicks = roomState ? [...roomState.typing.values()].map((t) => t.nick) : [];
  $("typing").textContent = typingText(nicks);
}
