// Files on their way into a message: the composer's attach button, files
// dropped on the timeline or the composer, images pasted into the box. Each
// uploads at once (chat.file.upload, then the bytes PUT to its upload_url
// with XMLHttpRequest for progress) and shows as a chip with its name, size,
// progress and a remove button; the next send carries the finished ones.

import { errorText } from "./connection.js";
import { hooks } from "./message_hooks.js";
import { formatSize } from "./message_files.js";
import { $, connection, showNotice } from "./page.js";
import { el } from "./render.js";
import { state } from "./state.js";

const MAX_FILES = 10;   // chat.message.send takes up to 10 file ids
let chips = [];         // {key, roomId, file, loaded, fileId, error, xhr}
let nextKey = 1;

const mayUpload = () => !!state.me && state.me.role !== "guest" && !!state.activeRoomId;

/** Add files (from the picker, a drop or a paste) to the open room's composer and start uploading them. */
export function addFiles(files) {
  if (!files || !files.length) return;
  if (!mayUpload()) { showNotice("Sign in with an account to send files."); return; }
  for (const file of files) {
    if (chips.filter((c) => c.roomId === state.activeRoomId).length >= MAX_FILES) {
      showNotice(`At most ${MAX_FILES} files per message.`);
      break;
    }
    if (!file.size) { showNotice(`${file.name} is empty.`); continue; }
    const chip = { key: nextKey++, roomId: state.activeRoomId, file, loaded: 0, fileId: null, error: null, xhr: null };
    chips.push(chip);
    upload(chip);
  }
  renderChips();
}

async function upload(chip) {
  try {
    const { file } = chip;
    const slot = await connection.call("chat.file.upload", [chip.roomId, file.name || "file", file.type || null, file.size]);
    if (!chips.includes(chip)) return;   // removed meanwhile
    await putBytes(chip, slot.upload_url);
    chip.fileId = slot.file_id;
  } catch (err) {
    chip.error = errorText(err);
  }
  renderChips();
}

/** PUT the bytes with XMLHttpRequest, whose upload events give the progress. */
function putBytes(chip, url) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    chip.xhr = xhr;
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (event) => { chip.loaded = event.loaded; showProgress(chip); });
    xhr.addEventListener("load", () => (xhr.status === 201 ? resolve() : reject(new Error(`upload refused (${xhr.status})`))));
    xhr.addEventListener("error", () => reject(new Error("the upload failed")));
    xhr.addEventListener("abort", () => reject(new Error("upload cancelled")));
    xhr.send(chip.file);
  });
}

function removeChip(key) {
  const chip = chips.find((c) => c.key === key);
  if (!chip) return;
  chips = chips.filter((c) => c !== chip);
  if (chip.xhr && !chip.fileId) chip.xhr.abort();
  renderChips();
}

function renderChips() {
  const mine = chips.filter((c) => c.roomId === state.activeRoomId);
  $("attachment-list").hidden = !mine.length;
  $("attachment-list").replaceChildren(...mine.map(chipItem));
}

function chipItem(chip) {
  const item = el("li", "attachment");
  item.dataset.key = String(chip.key);
  item.classList.toggle("done", !!chip.fileId);
  item.classList.toggle("failed", !!chip.error);
  item.append(el("span", "file-name", chip.file.name), el("span", "file-size", formatSize(chip.file.size)));
  if (chip.error) item.append(el("span", "attachment-error", chip.error));
  else if (!chip.fileId) {
    const bar = el("progress");
    bar.max = chip.file.size;
    bar.value = chip.loaded;
    bar.setAttribute("aria-label", `Uploading ${chip.file.name}`);
    item.append(bar);
  }
  const remove = el("button", "icon", "×");
  remove.type = "button";
  remove.dataset.key = String(chip.key);
  remove.setAttribute("aria-label", `Remove ${chip.file.name}`);
  item.append(remove);
  return item;
}

function showProgress(chip) {
  const bar = $("attachment-list").querySelector(`li[data-key="${chip.key}"] progress`);
  if (bar) bar.value = chip.loaded;
}

/** What a send carries: the uploaded files' ids; it waits while one is still uploading or failed. */
function sendExtras(roomId) {
  const mine = chips.filter((c) => c.roomId === roomId);
  if (!mine.length) return {};
  if (mine.some((c) => c.error)) return { busy: "A file did not upload: remove it first." };
  if (mine.some((c) => !c.fileId)) return { busy: "Wait a moment: files are still uploading." };
  return { kwargs: { files: mine.map((c) => c.fileId) } };
}

/** The open room changed: uploads meant for another room are dropped; guests get no attach button. */
function roomShown(roomState) {
  for (const chip of chips.filter((c) => !roomState || c.roomId !== roomState.room.id)) removeChip(chip.key);
  $("attach-button").hidden = !roomState || !mayUpload();
  renderChips();
}

const hasFiles = (event) => !!event.dataTransfer && [...event.dataTransfer.types].includes("Files");

function wireDropTarget(target) {
  target.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    target.classList.add("drop-target");
  });
  target.addEventListener("dragleave", () => target.classList.remove("drop-target"));
  target.addEventListener("drop", (event) => {
    target.classList.remove("drop-target");
    if (!hasFiles(event)) return;
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });
}

export function wireAttachments() {
  hooks.sendExtras.push(sendExtras);
  hooks.sent.push(() => { chips = chips.filter((c) => c.roomId !== state.activeRoomId); renderChips(); });
  hooks.roomShown.push(roomShown);
  $("attach-button").addEventListener("click", () => $("attach-input").click());
  $("attach-input").addEventListener("change", () => {
    addFiles([...$("attach-input").files]);
    $("attach-input").value = "";
  });
  $("attachment-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-key]");
    if (button) { removeChip(Number(button.dataset.key)); $("composer-input").focus(); }
  });
  $("composer-input").addEventListener("paste", (event) => {
    const files = event.clipboardData ? [...event.clipboardData.files] : [];
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });
  wireDropTarget($("messages"));
  wireDropTarget($("composer"));
}
