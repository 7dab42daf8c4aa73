// Side panels (the thread, the pinned messages): not modal, so the room
// stays usable beside them, but like the dialogs they take the focus when
// they open, Escape or their close button closes them, and the focus goes
// back to what opened them (or to what `returnFocus` finds after a redraw).

const openers = new WeakMap();   // panel -> {opener, returnFocus}
const closers = new WeakMap();   // panel -> what its owner does when it closes

/** Show `panel` and move the focus to `focus` (default: its heading). */
export function openPanel(panel, { focus = null, returnFocus = null } = {}) {
  for (const other of document.querySelectorAll(".side-panel:not([hidden])")) {
    if (other !== panel) closePanel(other, false);
  }
  if (panel.hidden) openers.set(panel, { opener: document.activeElement, returnFocus });
  panel.hidden = false;
  const target = focus || panel.querySelector("h2");
  if (target) target.focus();
}

/** Hide `panel`; `giveFocusBack` false when another panel takes its place. */
export function closePanel(panel, giveFocusBack = true) {
  if (panel.hidden) return;
  const hadFocus = panel.contains(document.activeElement);
  panel.hidden = true;
  (closers.get(panel) || (() => {}))();
  const { opener, returnFocus } = openers.get(panel) || {};
  openers.delete(panel);
  if (!giveFocusBack || !hadFocus) return;
  const target = opener && opener.isConnected ? opener : returnFocus && returnFocus();
  if (target) target.focus();
}

/** Close buttons ([data-close]) and Escape close the panel; `onClose` runs whenever it closes. */
export function wirePanel(panel, onClose = () => {}) {
  closers.set(panel, onClose);
  panel.addEventListener("click", (event) => {
    if (event.target.closest("[data-close]")) closePanel(panel);
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) { event.preventDefault(); closePanel(panel); }
  });
}
