// What the page knows: who I am, every room I can see (one RoomState each),
// which one is open, and my messages still on their way. Every other module
// reads and changes this one object, so a sign-out can reset it in one place.

import { MessageLog } from "./messages.js";

/** sessionStorage key of the open room, so a reload of this tab opens it again. */
export const ACTIVE_ROOM_KEY = "wampchat.room";

/** Everything the page knows about one room. */
export class RoomState {
  constructor(room, unread = 0) {
    this.room = room;
    this.unread = unread;
    this.log = new MessageLog();
    this.members = new Map();   // user -> {user, nick, online}
    this.typing = new Map();    // user -> {nick, timer}
    this.lastReadSent = null;
    this.mentions = 0;          // unread messages that mention me (counted apart from unread)
    this.mentionIds = new Set();// which ones, so a message counted live is not counted again
    this.changes = null;        // change cursor from the last join: edits/deletes/reactions after it are fetched
    this.reads = new Map();     // user -> id of the newest message they read
  }
}

export const state = {
  me: null,                  // User from chat.user.me
  myUserIds: new Set(),      // every id this page signed in as (guests get a new one per session)
  rooms: new Map(),          // room id -> RoomState
  activeRoomId: null,
  pending: [],               // {clientMsgId, roomId, text, failed, inFlight}
  subscribedRooms: new Set(),// rooms subscribed in the current session
  loadingOlder: null,        // the scroll-back page on its way (a Promise), if any
  search: null,              // {query, messages, more} of the search shown
  gapCatchUps: new Map(),    // room id -> true when another gap came during its catch-up
  roomsRefresh: null,        // the room list reload a gap asked for (a Promise), if any
};

export const isMe = (user) => state.myUserIds.has(user);
