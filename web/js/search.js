// Message search: chat.message.search pages shown in the sidebar, and a hit
// opening its room scrolled to that message (loading older pages to reach it).

import { errorText } from "./connection.js";
import { loadOlder, openRoom } from "./open_room.js";
import { $, connection, showNotice, view } from "./page.js";
import { searchHit } from "./render.js";
import { roomLabel } from "./room_list.js";
import { state } from "./state.js";

const SEARCH_PAGE = 20;
const JUMP_PAGE = 200;            // history page size when scrolling back to a search hit
const JUMP_MAX_PAGES = 25;        // give up after this many (5000 messages back)

export async function runSearch(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) { closeSearch(); return; }
  $("search-status").textContent = "Searching…";
  $("search-results").hidden = false;
  try {
    const result = await connection.call("chat.message.search", [query], { limit: SEARCH_PAGE });
    state.search = { query, messages: result.messages, more: result.more };
  } catch (err) {
    state.search = null;
    $("search-hits").replaceChildren();
    $("search-more").hidden = true;
    $("search-status").textContent = `Search failed: ${errorText(err)}`;
    return;
  }
  renderSearch();
}

export async function moreSearchResults() {
  const search = state.search;
  if (!search || !search.more) return;
  const before = search.messages[search.messages.length - 1].id;
  const result = await connection.call("chat.message.search", [search.query], { before, limit: SEARCH_PAGE });
  if (state.search !== search) return;
  search.messages.push(...result.messages);
  search.more = result.more;
  renderSearch();
}

function renderSearch() {
  const search = state.search;
  const count = search.messages.length;
  $("search-status").textContent = count ? `${count}${search.more ? "+" : ""} result${count === 1 ? "" : "s"}`
    : "No messages found.";
  $("search-hits").replaceChildren(...search.messages.map((m) => {
    const roomState = state.rooms.get(m.room);
    return searchHit(m, roomState ? roomLabel(roomState.room) : m.room);
  }));
  $("search-more").hidden = !search.more;
}

export function closeSearch() {
  state.search = null;
  $("search-results").hidden = true;
  $("search-hits").replaceChildren();
  $("search-status").textContent = "";
}

/** Open a room scrolled to one message (a search hit), loading older pages until it is there. */
export async function openRoomAt(roomId, messageId) {
  if (!state.rooms.has(roomId)) return;
  await openRoom(roomId);
  const roomState = state.rooms.get(roomId);
  for (let pages = 0; !roomState.log.get(messageId) && roomState.log.hasOlder && pages < JUMP_MAX_PAGES; pages += 1) {
    if (state.activeRoomId !== roomId) return;
    await loadOlder(JUMP_PAGE);
  }
  const item = view.item(messageId);
  if (!item) { showNotice("That message is too far back to show here."); return; }
  for (const old of document.querySelectorAll("#message-list .jump-target")) old.classList.remove("jump-target");
  item.classList.add("jump-target");
  item.tabIndex = -1;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
  $("sidebar").classList.remove("open");
}
