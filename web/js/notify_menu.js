// The open room's notification level, a menu in its header: All messages,
// Mentions, or Nothing (chat.room.notify; chat.room.list tells the current
// one). It decides what desktop_notify.js shows and whether the server sends
// this member mention notifications at all.

export const LEVELS = [
  ["all", "All messages"],
  ["mentions", "Mentions"],
  ["none", "Nothing"],
];

/** Fill the <select> once with the three levels. */
export function buildNotifyMenu(select) {
  select.replaceChildren(...LEVELS.map(([value, label]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    return option;
  }));
}

/** Show a room's level (members only: the level is a member's choice). */
export function renderNotifyMenu(wrapper, select, room) {
  wrapper.hidden = !room || room.member === false;
  if (room) select.value = room.notify || "all";
}

/**
 * Wire the menu: a change calls chat.room.notify for the room `currentRoom()` gives ({room} state) and keeps
 * the new level in it; a refused change puts the old one back and is reported through `onError`.
 */
export function wireNotifyMenu(select, { call, currentRoom, onError }) {
  select.addEventListener("change", async () => {
    const roomState = currentRoom();
    if (!roomState) return;
    const before = roomState.room.notify || "all";
    const level = select.value;
    try {
      await call("chat.room.notify", [roomState.room.id, level]);
      roomState.room = { ...roomState.room, notify: level };
    } catch (err) {
      select.value = before;
      onError(err);
    }
  });
}
