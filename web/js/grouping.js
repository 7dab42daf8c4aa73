// Runs of messages: a message continues the previous one's group when the same
// person wrote both within GROUP_GAP_MS on the same day, so the name, avatar
// and time are shown once per run (a grouped message keeps its name and time
// for screen readers, and shows its time in the gutter on hover or focus).

export const GROUP_GAP_MS = 5 * 60 * 1000;

/** Whether `message` continues `previous`'s group (both plain Message objects, or null). */
export function continuesGroup(previous, message) {
  if (!previous || !message || previous.user !== message.user) return false;
  const gap = message.ts - previous.ts;
  if (!(gap >= 0 && gap <= GROUP_GAP_MS)) return false;
  return new Date(previous.ts).toDateString() === new Date(message.ts).toDateString();
}

/** The facts of a drawn message item that grouping needs (its data attributes). */
function factsOf(item) {
  return item ? { user: item.dataset.user, ts: Number(item.dataset.ts) } : null;
}

/** Mark `item` grouped or not, from the message item before it in the list. */
export function regroup(item) {
  if (!item || !item.classList.contains("message")) return;
  const previous = item.previousElementSibling;
  item.classList.toggle("grouped", continuesGroup(factsOf(previous), factsOf(item)));
}

/** Regroup an item and the one after it (an insert or a redraw changes both). */
export function regroupAround(item) {
  regroup(item);
  if (item) regroup(item.nextElementSibling);
}
