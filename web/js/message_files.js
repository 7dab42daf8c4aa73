// A message's files (API "Files"): images as inline thumbnails that open a
// larger view in a dialog (click or Enter), other files as chips with name
// and size that link to the download. URLs come signed from chat.file.url.

import { openDialog, wireCloseButtons } from "./dialog.js";
import { cachedFileUrl, fileUrl } from "./file_urls.js";
import { hooks } from "./message_hooks.js";
import { addMessageAction } from "./message_toolbar.js";
import { $, reportError } from "./page.js";
import { el } from "./render.js";

const THUMB_W = 320;
const THUMB_H = 240;

/** "980 bytes", "12.3 KB", "4.5 MB". */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} bytes`;
  if (bytes < 1000 * 1000) return `${(bytes / 1000).toFixed(1)} KB`;
  return `${(bytes / 1000 / 1000).toFixed(1)} MB`;
}

const isImage = (file) => /^image\/(png|jpeg|gif|webp)$/.test(file.content_type || "") && file.width > 0;

/** The files of a message, as one block under its text (nothing when it has none). */
export function fileParts(message) {
  const files = message.files || [];
  if (!files.length) return [];
  const block = el("div", "message-files");
  for (const file of files) block.append(isImage(file) ? imageThumb(file) : fileChip(file));
  return [block];
}

/** A button showing the thumbnail; its size is reserved at once so the list does not jump when it loads. */
function imageThumb(file) {
  const button = el("button", "file-thumb");
  button.type = "button";
  button.dataset.action = "open-image";
  button.dataset.fileId = file.id;
  button.dataset.name = file.name;
  button.setAttribute("aria-label", `Open image ${file.name}`);
  button.title = `${file.name} (${file.width}×${file.height}, ${formatSize(file.size)})`;
  const scale = Math.min(1, THUMB_W / file.width, THUMB_H / file.height);
  const img = el("img");
  img.alt = "";
  img.width = Math.max(1, Math.round(file.width * scale));
  img.height = Math.max(1, Math.round(file.height * scale));
  button.append(img);
  withUrl(file.id, (urls) => { img.src = urls.thumbnail_url || urls.url; });
  return button;
}

/** A link to the download: the name and size; the signed URL is filled in once known. */
function fileChip(file) {
  const link = el("a", "file-chip");
  link.dataset.fileId = file.id;
  link.setAttribute("download", file.name);
  link.append(el("span", "file-name", file.name), el("span", "file-size", formatSize(file.size)));
  link.title = `Download ${file.name}`;
  withUrl(file.id, (urls) => { link.href = urls.url; });
  return link;
}

/** Call `use` with the file's URLs: at once when cached, else when the server answers. */
function withUrl(fileId, use) {
  const known = cachedFileUrl(fileId);
  if (known) { use(known); return; }
  fileUrl(fileId).then(use).catch(reportError);
}

/** The larger view of an image in a dialog, with a download link; the focus returns to its thumbnail. */
export async function openImage(button) {
  const urls = await fileUrl(button.dataset.fileId);
  const name = button.dataset.name || "Image";
  $("image-heading").textContent = name;
  $("image-full").alt = name;
  $("image-full").src = urls.url;
  $("image-download").href = urls.url;
  $("image-download").setAttribute("download", name);
  const fileId = button.dataset.fileId;
  openDialog($("image-dialog"), {
    focus: $("image-dialog").querySelector("[data-close]"),
    returnFocus: () => document.querySelector(`button.file-thumb[data-file-id="${CSS.escape(fileId)}"]`),
  });
}

export function wireMessageFiles() {
  hooks.afterText.push(fileParts);
  addMessageAction({ action: "open-image", run: ({ button }) => openImage(button) });
  wireCloseButtons($("image-dialog"));
  $("image-dialog").addEventListener("close", () => { $("image-full").removeAttribute("src"); });
}
