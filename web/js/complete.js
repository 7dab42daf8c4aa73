// @-completion in the composer: typing "@an" offers the room's members
// whose username or nick starts with "an"; arrows move, Enter or Tab
// takes one, Escape closes. The textarea keeps the focus throughout and
// points at the active option with aria-activedescendant, so it works by
// keyboard and a screen reader follows it.

import { mentionOption } from "./render.js";

const MAX_OPTIONS = 8;
// "@" + what has been typed of a name, right before the caret, not glued to a word or an e-mail address
const TYPED_MENTION = /(?:^|[^A-Za-z0-9_@.])@([A-Za-z0-9_]{0,32})$/;

export class MentionCompleter {
  /** `candidates()` gives the people to offer ({user, nick}); `onPick` is told after a name went in. */
  constructor({ input, list, candidates, onPick = () => {} }) {
    this.input = input;
    this.list = list;
    this.candidates = candidates;
    this.onPick = onPick;
    this.options = [];
    this.active = 0;
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    list.addEventListener("mousedown", (event) => event.preventDefault());  // keep the caret where it is
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(option.dataset.user);
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  /** What is being typed after "@" at the caret, or null when the caret is not in a mention. */
  typed() {
    const { value, selectionStart, selectionEnd } = this.input;
    if (selectionStart !== selectionEnd) return null;
    const match = TYPED_MENTION.exec(value.slice(0, selectionStart));
    return match ? match[1].toLowerCase() : null;
  }

  /** Look at the text again (after input or caret moves) and offer, or stop offering, names. */
  update() {
    const typed = this.typed();
    if (typed === null) { this.close(); return; }
    const matches = this.candidates().filter((m) =>
      m.user.toLowerCase().startsWith(typed) || (m.nick || "").toLowerCase().startsWith(typed));
    matches.sort((a, b) => (a.nick || a.user).localeCompare(b.nick || b.user));
    this.options = matches.slice(0, MAX_OPTIONS);
    if (!this.options.length) { this.close(); return; }
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.options.map((member, i) =>
      mentionOption(member, `mention-option-${i}`, i === this.active)));
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.active}`);
  }

  close() {
    this.options = [];
    this.active = 0;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Handle a key while open; true when it was ours (the caller then does nothing else with it). */
  keydown(event) {
    if (!this.isOpen) return false;
    switch (event.key) {
      case "ArrowDown": this.active = (this.active + 1) % this.options.length; this.render(); break;
      case "ArrowUp": this.active = (this.active - 1 + this.options.length) % this.options.length; this.render(); break;
      case "Enter":
      case "Tab":
        if (event.shiftKey || event.isComposing) return false;
        this.pick(this.options[this.active].user);
        break;
      case "Escape": this.close(); break;
      default: return false;
    }
    event.preventDefault();
    return true;
  }

  /** Put "@user " in place of what was typed after the "@". */
  pick(user) {
    const { value, selectionStart } = this.input;
    const before = value.slice(0, selectionStart);
    const at = before.lastIndexOf("@");
    if (at < 0) { this.close(); return; }
    const inserted = `@${user} `;
    const after = value.slice(selectionStart).replace(/^[A-Za-z0-9_]*\s?/, "");
    this.input.value = value.slice(0, at) + inserted + after;
    const caret = at + inserted.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.focus();
    this.onPick(user);
  }
}
