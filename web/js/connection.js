// The WAMP link to wampchat: sign-in (anonymous or ticket), connection state,
// and reconnecting with our own backoff.
//
// AutobahnJS stops retrying once the router says GOODBYE (as it does when the
// server restarts), so we never use its retry loop: every close that is not a
// sign-out or a refused login schedules a fresh open() after a growing delay.
//
// Where WebSocket is missing, AutobahnJS itself takes the next transport of the
// list, WAMP over HTTP long-poll at /lp. Where the network blocks WebSocket (the
// upgrade fails or hangs), an attempt that never reaches the router switches the
// next one to long-poll first; if that one never reaches it either, the next
// tries WebSocket again (the server may just be down).

/* global autobahn */

const REALM = "wampchat";
const FIRST_DELAY_S = 0.5;
const MAX_DELAY_S = 8;
/** An attempt that has not joined after this long is given up (a proxy may hold a WebSocket upgrade forever). */
const JOIN_TIMEOUT_S = 10;
const AUTH_ERRORS = new Set([
  "wamp.error.not_authorized",
  "wamp.error.authentication_failed",
  "wamp.error.no_auth_method",
  "wamp.error.no_such_realm",
  "wamp.error.no_such_principal",
]);
/** The server ended the session for good: no reconnect, the sign-in screen says why (session_end.js). */
const ENDING_REASONS = new Set([
  "wampchat.close.password_changed",
  "wampchat.close.account_deleted",
  "wampchat.error.banned",
]);

/** ws(s)://<this host>/ws: the page and WAMP share one origin. */
export function webSocketUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** http(s)://<host>/lp for a ws(s)://<host>/ws URL: WAMP over HTTP long-poll on the same origin. */
export function longPollUrl(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = "/lp";
  return url.href;
}

/** AutobahnJS's transports: WebSocket, then long-poll (or long-poll alone when `longPollFirst`). */
export function wampTransports(wsUrl, longPollFirst = false) {
  const longPoll = { type: "longpoll", url: longPollUrl(wsUrl) };
  return longPollFirst ? [longPoll] : [{ type: "websocket", url: wsUrl }, longPoll];
}

/** The delay before reconnect attempt number `attempt` (1, 2, ...), with ±20 % jitter. */
export function backoffDelay(attempt) {
  const base = Math.min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (attempt - 1));
  return base * (0.8 + Math.random() * 0.4);
}

/** The text of a WAMP error (an autobahn.Error) or any other failure. */
export function errorText(err) {
  if (err && err.args && err.args.length) return String(err.args[0]);
  if (err && err.error) return String(err.error);
  return String(err && err.message ? err.message : err);
}

/** How AutobahnJS is told to authenticate for a login ({mode: guest|user, ...}). */
function authOptions(login) {
  if (login.mode === "guest") {
    return { authmethods: ["anonymous"], authextra: { nick: login.nick } };
  }
  return {
    authmethods: ["ticket"],
    authid: login.username,
    onchallenge: (session, method) => {
      if (method !== "ticket") throw new Error(`unsupported auth method ${method}`);
      return login.password;
    },
  };
}

/**
 * One signed-in user's link to the router, kept open until stop().
 *
 * Callbacks: onOpen(session, isReconnect), onState(state, detail) with state
 * connecting | connected | reconnecting | offline, and onRefused(message)
 * when the router refuses the login, onEnded(reason, message) when the
 * server ends the session for good (password changed, account deleted, banned).
 */
export class ChatConnection {
  constructor({ url, onOpen, onState, onRefused, onEnded }) {
    this.url = url;
    this.onOpen = onOpen;
    this.onState = onState;
    this.onRefused = onRefused;
    this.onEnded = onEnded;
    this.session = null;
    this._connection = null;
    this._attempt = 0;
    this._everJoined = false;
    this._timer = null;
    this._joinTimer = null;
    this._stopped = true;
    this._longPollFirst = false;
  }

  /** Start signing in with `login` (the password, if any, is kept only in memory). */
  start(login) {
    this._login = login;
    this._stopped = false;
    this._everJoined = false;
    this._attempt = 0;
    this.onState("connecting");
    this._open();
  }

  /** Sign out: close the session and stop reconnecting. */
  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    clearTimeout(this._joinTimer);
    const connection = this._connection;
    this._connection = null;
    this.session = null;
    if (connection) {
      try { connection.close("wamp.close.logout", "signed out"); } catch (e) { /* already closed */ }
    }
    this.onState("offline");
  }

  /** The account's new password, for the reconnects of this session (kept in memory only). */
  setPassword(password) {
    if (this._login && this._login.mode === "user") this._login.password = password;
  }

  /** Call a procedure; rejects with {offline: true} while there is no session. */
  call(procedure, args = [], kwargs = {}) {
    if (!this.session || !this.session.isOpen) {
      return Promise.reject(Object.assign(new Error("not connected"), { offline: true }));
    }
    return Promise.resolve(this.session.call(procedure, args, kwargs));
  }

  _open() {
    const connection = new autobahn.Connection({
      transports: wampTransports(this.url, this._longPollFirst),
      realm: REALM,
      max_retries: 0,
      ...authOptions(this._login),
    });
    connection.onopen = (session) => this._opened(connection, session);
    connection.onclose = (reason, details) => this._closed(connection, reason, details);
    this._connection = connection;
    clearTimeout(this._joinTimer);
    this._joinTimer = setTimeout(() => this._giveUp(connection), JOIN_TIMEOUT_S * 1000);
    connection.open();
  }

  /** An attempt still not joined: close it, so that _closed tries again (on the other transport). */
  _giveUp(connection) {
    if (connection !== this._connection || connection.isOpen) return;
    try { connection.close(); } catch (e) { /* already closed */ }
  }

  _opened(connection, session) {
    if (connection !== this._connection) return;
    clearTimeout(this._joinTimer);
    const isReconnect = this._everJoined;
    this._everJoined = true;
    this._attempt = 0;
    this.session = session;
    this.onState("connected");
    this.onOpen(session, isReconnect);
  }

  _closed(connection, reason, details) {
    if (connection !== this._connection || this._stopped) return true;
    // once per connection: AutobahnJS's long-poll transport may report its end twice (its close and a receive)
    this._connection = null;
    clearTimeout(this._joinTimer);
    this.session = null;
    if (reason === "unreachable") this._longPollFirst = !this._longPollFirst;
    if (details && ENDING_REASONS.has(details.reason)) {
      this._stopped = true;
      this.onState("offline");
      this.onEnded(details.reason, details.message || "");
      return true;
    }
    // A refused login stops here; so does any other refusal of the very first
    // join (e.g. a guest nick that is taken). After a successful join the same
    // refusal may be transient (our old session still holds the nick), so retry.
    const refused = details && details.reason &&
      (AUTH_ERRORS.has(details.reason) || (!this._everJoined && /^(wamp|wampchat)\.error\./.test(details.reason)));
    if (refused) {
      this._stopped = true;
      this.onState("offline");
      this.onRefused(details.message || details.reason);
      return true;
    }
    this._attempt += 1;
    const delay = backoffDelay(this._attempt);
    this.onState("reconnecting", { delay });
    this._timer = setTimeout(() => { if (!this._stopped) this._open(); }, delay * 1000);
    return true;
  }
}

/**
 * Create an account: join as a guest, call chat.user.register, leave.
 * Resolves with the new User; the caller then signs in with the ticket.
 */
export function registerAccount(url, { username, password, displayName }) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const connection = new autobahn.Connection({
      transports: wampTransports(url), realm: REALM, max_retries: 0,
      authmethods: ["anonymous"], authextra: { nick: displayName || username },
    });
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      try { connection.close(); } catch (e) { /* already closed */ }
      fn(value);
    };
    connection.onopen = (session) => {
      const kwargs = displayName ? { display_name: displayName } : {};
      Promise.resolve(session.call("chat.user.register", [username, password], kwargs))
        .then((user) => finish(resolve, user), (err) => finish(reject, err));
    };
    connection.onclose = (reason, details) => {
      finish(reject, new Error((details && details.message) || `cannot reach the server (${reason})`));
      return true;
    };
    connection.open();
  });
}
