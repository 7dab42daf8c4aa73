// Why the server ended this session for good, in words for the sign-in
// screen, and whether the remembered login is still worth keeping.

const ENDINGS = {
  "wampchat.close.password_changed": {
    text: "You were signed out because this account's password was changed. Log in with the new password.",
    keepLogin: true,
  },
  "wampchat.close.account_deleted": {
    text: "This account was deleted. Its messages stay, shown as \u201cDeleted user\u201d.",
    keepLogin: false,
  },
  "wampchat.error.banned": {
    text: "You are banned from this server.",
    keepLogin: false,
  },
};

/** {text, keepLogin} for a GOODBYE/ABORT reason; the server's own message is added when it says more. */
export function sessionEnding(reason, message = "") {
  const known = ENDINGS[reason] || { text: "The server ended this session.", keepLogin: true };
  const detail = message && !known.text.toLowerCase().includes(message.toLowerCase()) ? ` (${message})` : "";
  return { text: known.text + detail, keepLogin: known.keepLogin };
}
