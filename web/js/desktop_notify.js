// Desktop notifications (the Notifications API) while the tab is hidden. They
// are off until the user presses the bell in the top bar (permission is only
// ever asked for from that click); pressing it again turns them off here.
// What notifies, by the room's level (chat.room.list's `notify`):
//   none      nothing, not even mentions or DMs;
//   mentions  messages that mention me, and every message of a DM or group DM;
//   all       (the server's default) every message of a room I am a member of.
// Clicking a notification brings the tab forward and opens the room.

const ENABLED_KEY = "wampchat.desktop";
const BODY_MAX = 140;

let openRoomFor = () => {};

/** Whether the browser has the API at all. */
export function supported() {
  return typeof window.Notification === "function";
}

/** On: turned on with the bell (remembered in this browser) and permission granted. */
export function enabled() {
  return supported() && Notification.permission === "granted" && localStorage.getItem(ENABLED_KEY) === "on";
}

/** Whether a live message from someone else is worth a notification, by the rules above. */
export function shouldNotify(room, message, mentionsMe) {
  const level = room.notify || "all";
  if (level === "none") return false;
  if (mentionsMe || room.dm || String(room.id).startsWith("dm_")) return true;
  return level === "all" && room.member !== false;
}

/** Show a notification for `message` of `room` (labelled `label`) if the tab is hidden and the rules say so. */
export function notifyMessage(room, label, message, mentionsMe) {
  if (!document.hidden || !enabled() || !shouldNotify(room, message, mentionsMe)) return null;
  const who = message.nick || message.user;
  const direct = String(room.id).startsWith("dm_") && !String(room.id).startsWith("dm_g");
  const title = mentionsMe ? `${who} mentioned you in ${label}` : direct ? `${who} (direct message)` : `${who} in ${label}`;
  const text = String(message.text || "");
  const body = text.length > BODY_MAX ? `${text.slice(0, BODY_MAX - 1)}…` : text;
  let shown;
  try {
    shown = new Notification(title, { body, tag: `wampchat-${room.id}` });
  } catch (err) {
    return null;   // e.g. a browser allowing them only from a service worker
  }
  shown.onclick = () => {
    window.focus();
    shown.close();
    openRoomFor(room.id);
  };
  return shown;
}

/** Wire the bell button: ask for permission on its click, show the state with aria-pressed. */
export function wireDesktopNotify(button, openRoom) {
  openRoomFor = openRoom;
  if (!supported()) { button.hidden = true; return; }
  button.hidden = false;
  showState(button);
  button.addEventListener("click", async () => {
    if (enabled()) {
      localStorage.setItem(ENABLED_KEY, "off");
    } else {
      localStorage.setItem(ENABLED_KEY, "on");
      if (Notification.permission !== "granted") await Notification.requestPermission();
    }
    showState(button);
  });
}

function showState(button) {
  const on = enabled();
  const blocked = Notification.permission === "denied";
  button.setAttribute("aria-pressed", String(on));
  button.title = blocked ? "Desktop notifications are blocked in the browser's site settings"
    : on ? "Desktop notifications are on (click to turn off)" : "Turn desktop notifications on";
}
