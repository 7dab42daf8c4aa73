// Modal dialogs (native <dialog> with showModal): the focus moves into the
// dialog, Escape closes it, and the focus goes back to what opened it (or,
// when that element was redrawn meanwhile, to what `returnFocus` finds).

/**
 * Open `dialog` modally. `focus`: the element to focus first (default: the first field or button);
 * `returnFocus`: a function giving the element to focus after closing, when the opener is gone.
 */
export function openDialog(dialog, { focus = null, returnFocus = null } = {}) {
  const opener = document.activeElement;
  dialog.addEventListener("close", () => {
    const target = opener && opener.isConnected ? opener : returnFocus && returnFocus();
    if (target) target.focus();
  }, { once: true });
  setStatus(dialog, "");
  if (!dialog.open) dialog.showModal();
  const first = focus || firstField(dialog);
  if (first) first.focus();
}

/** The first field that shows, else the first button that does not only close. */
function firstField(dialog) {
  const shown = (el) => el.offsetParent !== null;
  return [...dialog.querySelectorAll("input, select, textarea")].find(shown) ||
    [...dialog.querySelectorAll("button:not([data-close])")].find(shown);
}

export function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

/** A line of feedback inside the dialog (its `.dialog-status` element, a live region). */
export function setStatus(dialog, text, isError = false) {
  const status = dialog.querySelector(".dialog-status");
  if (!status) return;
  status.textContent = text;
  status.classList.toggle("error", isError);
}

/** Every `[data-close]` button closes its dialog (one listener per dialog). */
export function wireCloseButtons(dialog) {
  dialog.addEventListener("click", (event) => {
    if (event.target.closest("[data-close]")) closeDialog(dialog);
  });
}
