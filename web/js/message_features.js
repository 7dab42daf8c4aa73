// Issue 29's message features, wired in one call from app.js: files on
// messages, uploads from the composer, replies, threads and pins. The order
// is the order their parts appear on a message.

import { wireAttachments } from "./attachments.js";
import { wireMessageFiles } from "./message_files.js";
import { wirePins } from "./pins.js";
import { wireReplies } from "./replies.js";
import { wireThreads } from "./threads.js";

export function wireMessageFeatures() {
  wireReplies();        // the quote above the text, then the Reply button
  wirePins();           // the "Pinned" mark, then Pin / Unpin
  wireMessageFiles();   // files under the text
  wireThreads();        // then "N replies"
  wireAttachments();
}
