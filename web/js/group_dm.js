// "New group": a dialog to start a group DM with 2 to 9 other people, typed as
// comma-separated usernames or ticked from the open room's members. It calls
// chat.dm.open_group (the same people always get the same room) and opens it.

export const GROUP_MIN = 2;
export const GROUP_MAX = 9;
const USERNAME = /^[a-z0-9_]{2,32}$/;

/** The distinct usernames of a comma- or space-separated text, without `me`. */
export function parseUsernames(text, me) {
  const names = String(text).split(/[\s,]+/).map((name) => name.trim().replace(/^@/, "").toLowerCase())
    .filter(Boolean);
  return [...new Set(names)].filter((name) => name !== me);
}

/** What is wrong with a chosen group, or "" when it may be opened. */
export function groupProblem(usernames) {
  const bad = usernames.find((name) => !USERNAME.test(name));
  if (bad) return `"${bad}" is not a username (2 to 32 of a-z, 0-9 and _).`;
  if (usernames.length < GROUP_MIN) return `Pick at least ${GROUP_MIN} other people.`;
  if (usernames.length > GROUP_MAX) return `A group has at most ${GROUP_MAX} other people.`;
  return "";
}

/** One checkbox per member of the open room (other than me), to tick instead of typing. */
export function renderChoices(container, members, isMe) {
  const rows = members.filter((m) => !isMe(m.user) && !m.user.startsWith("guest_")).map((member) => {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = member.user;
    label.append(box, ` ${member.nick && member.nick !== member.user ? `${member.nick} (${member.user})` : member.user}`);
    return label;
  });
  container.replaceChildren(...rows);
  container.hidden = !rows.length;
}

/** Everyone chosen: the typed names and the ticked boxes. */
export function chosen(input, container, me) {
  const ticked = [...container.querySelectorAll("input:checked")].map((box) => box.value);
  return parseUsernames([input.value, ...ticked].join(","), me);
}
