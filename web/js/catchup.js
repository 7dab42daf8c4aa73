// Catching up on what a room's live events did not bring: after a reconnect,
// and when the server says events were lost (chat.room.<id>.gap). New messages
// come with history(after: the newest we have), then edits, deletes and
// reactions to the messages we have with history(changed_after: the cursor).

import { errorText } from "./connection.js";
import { connection } from "./page.js";
import { markRead } from "./reads.js";
import { state } from "./state.js";
import { messageArrived } from "./timeline.js";

const CATCH_UP_PAGE = 200;

/** After a reconnect: fetch, for every room we had open, what was sent while we were away. */
export async function catchUpAllRooms() {
  for (const [roomId, roomState] of state.rooms) {
    if (!roomState.log.loaded) continue;
    try {
      await catchUp(roomId);
    } catch (err) {
      console.warn(`could not catch up on ${roomId}: ${errorText(err)}`);
    }
  }
}

/**
 * chat.room.<id>.gap: the node could not deliver every live event of this room (docs/API.md, Several
 * nodes), so fetch what we may lack as after a reconnect, and look at the room list again with
 * `refreshRoomList` (an invite or a new room may be among what was missed; rooms.js owns that list).
 * Gaps that arrive while one catch-up runs make one more.
 */
export async function liveEventsMissed(roomId, refreshRoomList) {
  const roomState = state.rooms.get(roomId);
  if (!roomState || !roomState.log.loaded) return; // opening it later loads its history anyway
  if (state.gapCatchUps.has(roomId)) {
    state.gapCatchUps.set(roomId, true);
    return;
  }
  state.gapCatchUps.set(roomId, false);
  try {
    do {
      state.gapCatchUps.set(roomId, false);
      await catchUp(roomId);
    } while (state.gapCatchUps.get(roomId));
    await refreshRoomList();
  } catch (err) {
    console.warn(`could not catch up on ${roomId} after a gap: ${errorText(err)}`);
  } finally {
    state.gapCatchUps.delete(roomId);
  }
}

async function catchUp(roomId) {
  const roomState = state.rooms.get(roomId);
  let after = roomState && roomState.log.newestId();
  while (after) {
    const page = await connection.call("chat.message.history", [roomId], { after, limit: CATCH_UP_PAGE });
    for (const message of page.messages) messageArrived(roomId, message, false);
    if (!page.more || page.messages.length === 0) break;
    after = page.messages[page.messages.length - 1].id;
  }
  await catchUpChanges(roomId);
  if (roomId === state.activeRoomId) markRead(roomId);
}

/** Edits, deletes and reactions made while we were away, to the messages we have (changed_after). */
async function catchUpChanges(roomId) {
  const roomState = state.rooms.get(roomId);
  let cursor = roomState && roomState.changes;
  if (cursor === null || cursor === undefined) return;
  for (;;) {
    const page = await connection.call("chat.message.history", [roomId], { changed_after: cursor, limit: CATCH_UP_PAGE });
    for (const message of page.messages) {
      if (roomState.log.get(message.id)) messageArrived(roomId, message, false);
    }
    cursor = page.changes;
    if (!page.more) break;
  }
  roomState.changes = cursor;
}
