// The actions toolbar of a message (react, edit, delete, report, and whatever
// other modules add: reply, pin, …). It is a role="toolbar" of labelled
// <button>s, shown over the message on hover and on keyboard focus.
//
// HOW TO ADD AN ACTION (pins.js, replies.js, threads.js, …):
//
//   import { addMessageAction } from "./message_toolbar.js";
//   addMessageAction({
//     action: "pin",                       // the button's data-action (unique)
//     label: "Pin",                        // its text (or a symbol, with `ariaLabel`); or (message, ctx) => text
//     ariaLabel: "Pin this message",       // optional: the accessible name when the text is a symbol
//     order: 40,                           // optional: place in the bar (react 10, edit 20, delete 30, report 90)
//     show: (message, ctx) => true,        // optional: whether this message gets it; ctx = {own, isMe}
//     run: async ({ roomId, message, item, button }) => { … },   // what a click (or Enter) does
//   });
//
// message_actions.js looks a clicked button's data-action up here (registeredAction) after its own
// built-in cases, so an added action needs no change anywhere else. An action without a `label` gets no
// toolbar button: it runs the clicks on buttons of its data-action that a module draws in the message
// itself (a reply's quote, an image thumbnail, "N replies"). That content comes from message_hooks.js
// (beforeText above the text, afterText into the item's `.message-extras` container).

const registry = [];

/** Register a toolbar action (see above); a second registration of the same `action` replaces the first. */
export function addMessageAction(spec) {
  const at = registry.findIndex((known) => known.action === spec.action);
  if (at >= 0) registry.splice(at, 1);
  registry.push({ order: 50, show: () => true, ...spec });
  registry.sort((a, b) => a.order - b.order);
}

/** The registered action of this data-action, if any. */
export function registeredAction(action) {
  return registry.find((known) => known.action === action) || null;
}

/** A toolbar button: text, data-action, an accessible name and a tooltip. */
export function toolbarButton(label, action, ariaLabel) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `secondary ${action}`;
  button.textContent = label;
  button.dataset.action = action;
  if (ariaLabel) {
    button.setAttribute("aria-label", ariaLabel);
    button.title = ariaLabel;
  }
  return button;
}

/** The toolbar of a message: every registered action this message gets, in order. */
export function messageToolbar(message, ctx) {
  const bar = document.createElement("div");
  bar.className = "actions";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", `Actions on the message of ${message.nick || message.user}`);
  for (const spec of registry) {
    if (!spec.label || !spec.show(message, ctx)) continue;
    const label = typeof spec.label === "function" ? spec.label(message, ctx) : spec.label;
    bar.append(toolbarButton(label, spec.action, spec.ariaLabel));
  }
  return bar;
}

// The built-in actions; message_actions.js handles them (their `run` is filled in there).
addMessageAction({ action: "react-menu", label: "☺+", ariaLabel: "Add a reaction", order: 10 });
addMessageAction({ action: "edit", label: "Edit", order: 20, show: (m, ctx) => ctx.own });
addMessageAction({ action: "delete", label: "Delete", order: 30, show: (m, ctx) => ctx.own });
addMessageAction({ action: "report", label: "Report", order: 90, show: (m, ctx) => !ctx.own });
