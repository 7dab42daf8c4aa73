// The open room's message list on screen: keeps one <li> per message id in
// id order, and knows whether the reader is at the bottom so that new
// messages scroll into view only for someone who is not reading back.
// Consecutive messages of one author are grouped (grouping.js): every insert
// or redraw regroups the item and the one after it.

import { regroup, regroupAround } from "./grouping.js";
import { compareIds } from "./messages.js";
import { fillMessageItem, messageItem, pendingItem, seenLine } from "./render.js";

const AT_BOTTOM_SLACK_PX = 40;

export class MessageListView {
  constructor({ scroller, list, pendingList, isOwn, isMe }) {
    this.scroller = scroller;
    this.list = list;
    this.pendingList = pendingList;
    this.isOwn = isOwn;
    this.isMe = isMe;
    this.items = new Map();
    this.seen = new Map();   // message id -> names that read up to it
  }

  _view(message) {
    return { own: this.isOwn(message), isMe: this.isMe };
  }

  /** Show "Seen by …" lines: `seen` maps a message id to the names whose read marker is there. */
  setSeen(seen) {
    const changed = new Set([...this.seen.keys(), ...seen.keys()]);
    this.seen = seen;
    for (const id of changed) {
      const item = this.items.get(id);
      if (item) this._drawSeen(item);
    }
  }

  _drawSeen(item) {
    const old = item.querySelector(":scope > .seen");
    if (old) old.remove();
    const names = this.seen.get(item.dataset.id);
    if (names && names.length) item.append(seenLine(names));
  }

  /** Show exactly these messages (oldest first), e.g. on switching rooms. */
  showAll(messages) {
    this.items.clear();
    this.seen = new Map();
    this.list.replaceChildren();
    for (const message of messages) this._append(message);
  }

  /** Insert a new message in order, or redraw a known one (edit, delete). */
  upsert(message) {
    const known = this.items.get(message.id);
    if (known) {
      // Redrawing replaces the item's buttons: a keyboard user focused on one keeps the focus there.
      const focused = known.contains(document.activeElement) ? focusKey(document.activeElement) : null;
      fillMessageItem(known, message, this._view(message));
      this._drawSeen(known);
      regroupAround(known);
      if (focused) {
        const again = known.querySelector(focused);
        if (again) again.focus();
      }
      return;
    }
    const item = messageItem(message, this._view(message));
    this._drawSeen(item);
    this.items.set(message.id, item);
    this.list.insertBefore(item, this._firstItemAfter(message.id));
    regroupAround(item);
  }

  /** The <li> of a message, if it is on screen. */
  item(id) {
    return this.items.get(id);
  }

  /** Redraw the messages still waiting for the server. */
  showPending(pending, me) {
    this.pendingList.replaceChildren(...pending.map((p) => pendingItem(p, me)));
  }

  atBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight <= AT_BOTTOM_SLACK_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Run `change` (which adds older messages above) without moving what the reader sees. */
  keepingPosition(change) {
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    change();
    this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
  }

  _append(message) {
    const item = messageItem(message, this._view(message));
    this._drawSeen(item);
    this.items.set(message.id, item);
    this.list.append(item);
    regroup(item);
  }

  _firstItemAfter(id) {
    // New messages almost always belong at the end and older ones at the
    // start, so walk from the end and stop at the first smaller id.
    let node = this.list.lastElementChild;
    let after = null;
    while (node && compareIds(node.dataset.id, id) > 0) {
      after = node;
      node = node.previousElementSibling;
    }
    return after;
  }
}

/** A selector finding "the same" button again after a redraw, by what it does. */
function focusKey(element) {
  if (!element.dataset || !element.dataset.action) return null;
  let key = `[data-action="${CSS.escape(element.dataset.action)}"]`;
  if (element.dataset.emoji) key += `[data-emoji="${CSS.escape(element.dataset.emoji)}"]`;
  return key;
}
