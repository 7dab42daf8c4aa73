// The page's unread count where a user sees it from another tab or window:
// "(N) wampchat" in the title and a favicon with N on a dot, drawn on a
// canvas (CSP allows data: images). Both follow the room list's counts.

const BASE_TITLE = "wampchat";
const EMPTY_ICON = "data:,";
const ICON_PX = 32;
let shown = null;

/** Show `total` unread messages (0: the plain title and icon). */
export function showUnread(total) {
  if (total === shown) return;
  shown = total;
  document.title = total ? `(${total > 999 ? "999+" : total}) ${BASE_TITLE}` : BASE_TITLE;
  const link = document.querySelector("link[rel~='icon']");
  if (link) link.href = total ? badgeIcon(total) : EMPTY_ICON;
}

/** A PNG data: URL of a red dot with the count in white (9+ past nine). */
export function badgeIcon(total) {
  const canvas = document.createElement("canvas");
  canvas.width = ICON_PX;
  canvas.height = ICON_PX;
  const g = canvas.getContext("2d");
  if (!g) return EMPTY_ICON;
  g.fillStyle = "#2459b8";
  g.beginPath();
  g.arc(ICON_PX / 2, ICON_PX / 2, ICON_PX / 2 - 1, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#c62828";
  g.beginPath();
  g.arc(ICON_PX - 9, 9, 9, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#ffffff";
  g.font = "bold 12px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(total > 9 ? "9+" : String(total), ICON_PX - 9, 10);
  return canvas.toDataURL("image/png");
}

/** The total of the rooms' unread counts (a room state has `unread`). */
export function totalUnread(roomStates) {
  let total = 0;
  for (const roomState of roomStates) total += roomState.unread || 0;
  return total;
}
