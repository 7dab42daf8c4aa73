// Wires the page's notification controls and group DMs to the page: the bell
// (desktop notifications), the open room's notification menu, and the "New
// group" dialog. The behaviour lives in desktop_notify.js, notify_menu.js and
// group_dm.js; this module only connects them to the page's state.

import { errorText } from "./connection.js";
import { wireDesktopNotify } from "./desktop_notify.js";
import { closeDialog, openDialog, setStatus, wireCloseButtons } from "./dialog.js";
import { GROUP_MAX, chosen, groupProblem, renderChoices } from "./group_dm.js";
import { buildNotifyMenu, renderNotifyMenu, wireNotifyMenu } from "./notify_menu.js";
import { $, connection, reportError } from "./page.js";
import { isMe, state } from "./state.js";

const groupDialog = () => $("group-dialog");

/** Wire the bell, the notification menu and the group dialog; `openRoom` and `addRoom` come from app.js. */
export function wireNotifications({ openRoom, addRoom }) {
  wireDesktopNotify($("desktop-notify"), (roomId) => openRoom(roomId).catch(reportError));
  buildNotifyMenu($("notify-level"));
  wireNotifyMenu($("notify-level"), {
    call: (procedure, args) => connection.call(procedure, args),
    currentRoom: () => state.rooms.get(state.activeRoomId),
    onError: reportError,
  });
  wireCloseButtons(groupDialog());
  $("new-group-button").addEventListener("click", openGroupDialog);
  $("group-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startGroup(openRoom, addRoom);
  });
}

/** Show the open room's notification level in its header. */
export function renderRoomNotify() {
  const roomState = state.rooms.get(state.activeRoomId);
  renderNotifyMenu($("notify-level-label"), $("notify-level"), roomState && roomState.room);
}

function openGroupDialog() {
  $("group-form").reset();
  const roomState = state.rooms.get(state.activeRoomId);
  const members = roomState ? [...roomState.members.values()].slice(0, 200) : [];
  renderChoices($("group-choice-list"), members, isMe);
  $("group-choices").hidden = $("group-choice-list").hidden;
  openDialog(groupDialog(), { focus: $("group-usernames"), returnFocus: () => $("new-group-button") });
}

async function startGroup(openRoom, addRoom) {
  const usernames = chosen($("group-usernames"), $("group-choice-list"), state.me && state.me.user);
  const problem = groupProblem(usernames);
  if (problem) { setStatus(groupDialog(), problem, true); return; }
  try {
    setStatus(groupDialog(), "Opening the group…");
    const room = await connection.call("chat.dm.open_group", [usernames.slice(0, GROUP_MAX)]);
    addRoom(room);
    closeDialog(groupDialog());
    await openRoom(room.id);
  } catch (err) {
    setStatus(groupDialog(), errorText(err), true);
  }
}
