// The account settings dialog (accounts only): display name, password,
// export and deleting the account (chat.user.update, change_password,
// export, delete). The end of the session a deletion brings is app.js's.

import { closeDialog, openDialog, setStatus, wireCloseButtons } from "./dialog.js";
import { errorText } from "./connection.js";
import { gatherExport, offerDownload } from "./export.js";
import { $, connection } from "./page.js";
import { state } from "./state.js";

const dialog = () => $("account-dialog");

/** The top bar's name: "Nick (user)", or the user id alone; and whether the account button shows. */
export function showMe(me) {
  $("me").textContent = me.nick && me.nick !== me.user ? `${me.nick} (${me.user})` : me.user;
  $("me").title = $("me").textContent;
  $("account-button").hidden = !me || me.role === "guest";
}

export function openAccountDialog() {
  if (!state.me || state.me.role === "guest") return;
  for (const form of dialog().querySelectorAll("form")) form.reset();
  $("display-name-input").value = state.me.nick || state.me.user;
  $("export-link").hidden = true;
  openDialog(dialog(), { returnFocus: () => $("account-button") });
}

/** Run one of the dialog's actions, saying in the dialog how it went. */
function action(run) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      await run();
    } catch (err) {
      setStatus(dialog(), errorText(err), true);
    }
  };
}

const saveDisplayName = action(async () => {
  const me = await connection.call("chat.user.update", [], { display_name: $("display-name-input").value.trim() });
  state.me = me;
  showMe(me);
  setStatus(dialog(), `Your display name is now ${me.nick}.`);
});

const changePassword = action(async () => {
  const password = $("new-password").value;
  if (password !== $("repeat-password").value) {
    setStatus(dialog(), "The new passwords do not match.", true);
    return;
  }
  await connection.call("chat.user.change_password", [$("old-password").value, password]);
  connection.setPassword(password);
  $("password-form").reset();
  setStatus(dialog(), "Password changed. Your other sessions were signed out.");
});

const prepareExport = action(async () => {
  setStatus(dialog(), "Gathering your messages…");
  const data = await gatherExport((...args) => connection.call(...args));
  offerDownload($("export-link"), data, `wampchat-${state.me.user}.json`);
  setStatus(dialog(), `Your export is ready: ${data.messages.length} messages.`);
  $("export-link").focus();
});

const deleteAccount = action(async () => {
  setStatus(dialog(), "Deleting your account…");
  await connection.call("chat.user.delete", [$("delete-password").value]);
  closeDialog(dialog());   // the server now ends the session; app.js shows the sign-in screen with why
});

export function wireAccountDialog() {
  wireCloseButtons(dialog());
  $("account-button").addEventListener("click", openAccountDialog);
  $("display-name-form").addEventListener("submit", saveDisplayName);
  $("password-form").addEventListener("submit", changePassword);
  $("export-button").addEventListener("click", prepareExport);
  $("delete-form").addEventListener("submit", deleteAccount);
}
