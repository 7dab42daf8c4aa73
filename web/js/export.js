// Export: every page of chat.user.export gathered into one JSON file,
// offered as a download link (a Blob URL; nothing leaves the browser).

const PAGE = 200;
const MAX_PAGES = 1000;   // 200 000 messages: a bound, so a misbehaving server cannot loop us forever

/** Every message the caller wrote, with who they are and their rooms: one object for the file. */
export async function gatherExport(call) {
  const messages = [];
  let first = null;
  let before = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const kwargs = before ? { before, limit: PAGE } : { limit: PAGE };
    const answer = await call("chat.user.export", [], kwargs);
    if (!first) first = answer;
    messages.push(...(answer.messages || []));
    if (!answer.more || !answer.messages || !answer.messages.length) break;
    before = answer.messages[answer.messages.length - 1].id;
  }
  return { exported: new Date().toISOString(), user: first.user, rooms: first.rooms || [], messages };
}

let lastUrl = null;

/** Point `link` at a JSON file of `data` (the previous file's URL is let go). */
export function offerDownload(link, data, fileName) {
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  lastUrl = URL.createObjectURL(blob);
  link.href = lastUrl;
  link.download = fileName;
  link.hidden = false;
}
