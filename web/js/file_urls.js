// Signed download URLs of files (chat.file.url), kept until shortly before
// they expire, so redrawing a message or reopening an image asks nothing.

import { connection } from "./page.js";

const MARGIN_MS = 60 * 1000;   // a URL this close to its expiry is asked for again
const cache = new Map();       // file id -> {url, thumbnail_url?, expires}
const asking = new Map();      // file id -> Promise of the answer on its way

/** A URL answer still good for a while, or null. */
export function cachedFileUrl(fileId) {
  const known = cache.get(fileId);
  return known && known.expires - MARGIN_MS > Date.now() ? known : null;
}

/** {url, thumbnail_url?, expires} of a file, from the cache or the server (one call per file at a time). */
export function fileUrl(fileId) {
  const known = cachedFileUrl(fileId);
  if (known) return Promise.resolve(known);
  if (!asking.has(fileId)) {
    const call = connection.call("chat.file.url", [fileId]).then((answer) => {
      cache.set(fileId, answer);
      return answer;
    }).finally(() => asking.delete(fileId));
    asking.set(fileId, call);
  }
  return asking.get(fileId);
}
