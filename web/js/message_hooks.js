// Where the message features (files, replies, threads, pins) plug into the
// page's core modules without those importing them: the core calls these
// lists, the feature modules add to them when app.js wires them. This module
// imports nothing, so render.js and the others may use it without a cycle.
// Buttons and clicks on a message are not here: those go through
// addMessageAction (message_toolbar.js), toolbar actions and content clicks alike.

export const hooks = {
  beforeText: [],   // (message) -> [Node]: parts above a message's text (a reply's quote)
  afterText: [],    // (message) -> [Node]: parts in .message-extras under it (files, "N replies")
  roomEvents: [],   // (roomId) -> {suffix: handler}: more live topics of a room
  arrived: [],      // (roomId, message): a message reached the page (live, history or a send)
  roomShown: [],    // (roomState or undefined): the open room was (re)drawn or closed
  sendExtras: [],   // (roomId) -> {kwargs?, busy?}: what a send from the composer carries
  sent: [],         // (): the composer's message went out; clear what it carried
};

/** Every node the hooks of `list` give for a message. */
export function messageParts(list, ...args) {
  return list.flatMap((hook) => hook(...args) || []);
}

/** The extra live topics of a room: {suffix: handler}. */
export function roomEventHandlers(roomId) {
  return Object.assign({}, ...hooks.roomEvents.map((hook) => hook(roomId)));
}

/** What the composer's send carries: {kwargs, busy} (busy: a reason to wait, e.g. uploads running). */
export function sendExtras(roomId) {
  const kwargs = {};
  let busy = null;
  for (const hook of hooks.sendExtras) {
    const extra = hook(roomId) || {};
    Object.assign(kwargs, extra.kwargs || {});
    busy = busy || extra.busy || null;
  }
  return { kwargs, busy };
}

export function notify(list, ...args) {
  for (const hook of list) hook(...args);
}
