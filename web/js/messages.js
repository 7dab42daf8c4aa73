// One room's messages, each kept once by id, in server order.
//
// Message ids are strings that sort in acceptance order (API.md), so the
// newest id is what we pass as `after` when catching up after a reconnect
// and the oldest is the `before` for scroll-back.

/** Compare two message ids in acceptance order. */
export function compareIds(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class MessageLog {
  constructor() {
    this.byId = new Map();
    this.hasOlder = true;   // whether the server may hold older messages
    this.loaded = false;    // whether the room's history was fetched at least once
  }

  /** Store a message; says "new", "changed" or "same" so callers redraw only what changed. */
  put(message) {
    const known = this.byId.get(message.id);
    if (!known) {
      this.byId.set(message.id, message);
      return "new";
    }
    if (known.deleted && !message.deleted) return "same";
    if (known.text === message.text && !!known.edited === !!message.edited && !!known.deleted === !!message.deleted &&
        sameList(known.mentions, message.mentions) && sameReactions(known.reactions, message.reactions)) {
      return "same";
    }
    this.byId.set(message.id, { ...known, ...message, reactions: message.reactions || {} });
    return "changed";
  }

  /** Apply a live reaction event ({emoji, user, on}); true if the message is here and changed. */
  applyReaction(id, emoji, user, on) {
    const known = this.byId.get(id);
    if (!known || known.deleted) return false;
    const reactions = { ...(known.reactions || {}) };
    const users = reactions[emoji] || [];
    if (on === users.includes(user)) return false;
    if (on) reactions[emoji] = [...users, user];
    else if (users.length > 1) reactions[emoji] = users.filter((u) => u !== user);
    else delete reactions[emoji];
    this.byId.set(id, { ...known, reactions });
    return true;
  }

  /** Mark a message deleted (its text is dropped); false if we never saw it. */
  markDeleted(id) {
    const known = this.byId.get(id);
    if (!known) return false;
    this.byId.set(id, { ...known, text: "", deleted: true, reactions: {}, mentions: [] });
    return true;
  }

  get(id) {
    return this.byId.get(id);
  }

  /** All messages, oldest first. */
  ordered() {
    return [...this.byId.values()].sort((a, b) => compareIds(a.id, b.id));
  }

  oldestId() {
    let oldest = null;
    for (const id of this.byId.keys()) if (oldest === null || compareIds(id, oldest) < 0) oldest = id;
    return oldest;
  }

  newestId() {
    let newest = null;
    for (const id of this.byId.keys()) if (newest === null || compareIds(id, newest) > 0) newest = id;
    return newest;
  }
}

function sameList(a = [], b = []) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Reactions as the server gives them ({emoji: [users]}); absent means none. */
function sameReactions(a = {}, b = {}) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => sameList(a[k], b[k]));
}
