// Avatars: a round badge with the person's initials on a colour picked from
// a hash of their username, so one person keeps one colour whatever their
// nick. White initials on hsl(h, 50%, 30%) are at least 4.5:1 for every hue.

/** "Ann Smith" -> "AS", "bob" -> "BO", "guest_1a2b" -> "GU", "" -> "?". */
export function initials(name) {
  const words = String(name || "").trim().split(/[\s_.-]+/u).filter(Boolean);
  if (!words.length) return "?";
  const letters = words.length > 1 ? [first(words[0]), first(words[1])] : [...words[0]].slice(0, 2);
  return letters.join("").toUpperCase();
}

function first(word) {
  return [...word][0] || "";
}

/** A stable hue (0..359) of a username (FNV-1a, 32 bits). */
export function hueOf(username) {
  let hash = 0x811c9dc5;
  for (const ch of String(username || "")) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 360;
}

/** The avatar of a message's author; decorative (the name is next to it), so hidden from screen readers. */
export function avatar(username, nick) {
  const badge = document.createElement("span");
  badge.className = "avatar";
  badge.textContent = initials(nick || username);
  badge.style.backgroundColor = `hsl(${hueOf(username)}, 50%, 30%)`;
  badge.setAttribute("aria-hidden", "true");
  badge.dataset.user = username || "";
  return badge;
}
