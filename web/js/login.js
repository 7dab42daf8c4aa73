// What the page remembers about a login across reloads.
//
// Guests: the nick, so a reload signs in again as a guest with the same nick
// (the server hands out a new guest id each time). Accounts: only the
// username; the password lives in memory for reconnects and is asked for
// again after a reload. Nothing secret is ever written to storage.

const KEY = "wampchat.login";

/** {mode: "guest", nick} or {mode: "user", username}, or null. */
export function rememberedLogin() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY));
    if (saved && saved.mode === "guest" && typeof saved.nick === "string") return { mode: "guest", nick: saved.nick };
    if (saved && saved.mode === "user" && typeof saved.username === "string") return { mode: "user", username: saved.username };
  } catch (e) { /* unreadable: forget it */ }
  return null;
}

/** Remember a login without its password. */
export function rememberLogin(login) {
  const saved = login.mode === "guest" ? { mode: "guest", nick: login.nick } : { mode: "user", username: login.username };
  localStorage.setItem(KEY, JSON.stringify(saved));
}

export function forgetLogin() {
  localStorage.removeItem(KEY);
}

/** A nick the router accepts: 1..32 printable characters without < or >. */
export function nickProblem(nick) {
  if (!nick || nick.length > 32) return "A nick is 1 to 32 characters.";
  if (/[<>\u0000-\u001f\u007f]/.test(nick)) return "A nick cannot contain < or > or control characters.";
  return null;
}

export const USERNAME_PATTERN = /^[a-z0-9_]{2,32}$/;
