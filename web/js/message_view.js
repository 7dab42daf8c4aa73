// The open room's message list on screen: keeps one <li> per message id in
// id order, and knows whether the reader is at the bottom so that new
// messages scroll into view only for someone who is not reading back.

import { compareIds } from "./messages.js";
import { fillMessageItem, messageItem, pendingItem } from "./render.js";

const AT_BOTTOM_SLACK_PX = 40;

export class MessageListView {
  constructor({ scroller, list, pendingList, isOwn }) {
    this.scroller = scroller;
    this.list = list;
    this.pendingList = pendingList;
    this.isOwn = isOwn;
    this.items = new Map();
  }

  /** Show exactly these messages (oldest first), e.g. on switching rooms. */
  showAll(messages) {
    this.items.clear();
    this.list.replaceChildren();
    for (const message of messages) this._append(message);
  }

  /** Insert a new message in order, or redraw a known one (edit, delete). */
  upsert(message) {
    const known = this.items.get(message.id);
    if (known) {
      fillMessageItem(known, message, this.isOwn(message));
      return;
    }
    const item = messageItem(message, this.isOwn(message));
    this.items.set(message.id, item);
    this.list.insertBefore(item, this._firstItemAfter(message.id));
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
    const item = messageItem(message, this.isOwn(message));
    this.items.set(message.id, item);
    this.list.append(item);
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
