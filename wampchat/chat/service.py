"""
The chat service: ``chat.*`` procedures and topics, inside the router.

It is an ordinary Autobahn ``ApplicationSession`` joined in-process (role
``trusted``), so every caller's identity comes from the router
(``details.caller_authid``), never from the request. It keeps rooms and
memberships in memory for the synchronous authorization rule it adds to the
realm, and every change goes to SQLite first: an event is published only
after its row is committed.
"""
import functools
import inspect
import sqlite3

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from wampchat.chat import model
from wampchat.chat.model import CONFLICT, FORBIDDEN, INVALID, LOBBY, NOT_FOUND, RATE_LIMITED, fail
from wampchat.chat.presence import Presence, SendRateLimit, TypingTimers
from wampchat.router.auth import validate_nick
from wampchat.router.authorize import TRUSTED
from wampchat.router.credentials import make_credentials

ACCOUNT_ROLES = ("user", "admin", "service")
TYPING_TIMEOUT = 6.0


class ChatSettings:
    """What the operator can tune (twistd options)."""

    def __init__(self, open_registration=True, send_rate=20, node_id="node"):
        self.open_registration = open_registration
        self.send_rate = send_rate
        self.node_id = node_id


class Caller:
    """Who is calling, as the router vouches for it."""

    __slots__ = ("session", "user", "role", "nick")

    def __init__(self, session, user, role, nick):
        self.session = session
        self.user = user
        self.role = role
        self.nick = nick

    @property
    def is_admin(self):
        return self.role == "admin"


class ChatService(ApplicationSession):
    """Implements API.md §4–5 on top of a :class:`~wampchat.chat.store.ChatStore`."""

    log = Logger()

    def __init__(self, config, store, realm, reactor, settings):
        super().__init__(config)
        self.store = store
        self.router_realm = realm
        self.reactor = reactor
        self.settings = settings
        self.ids = model.MessageIds(settings.node_id, reactor)
        self.presence = Presence()
        self.typing = TypingTimers(reactor, TYPING_TIMEOUT, self._typing_expired)
        self.send_limit = SendRateLimit(reactor, settings.send_rate)
        self.send_duration = realm.metrics.histogram(  # /metrics; observed in message_send
            "wampchat_chat_send_duration_seconds", "chat.message.send calls, from invocation to a successful result")
        self.rooms = {}
        self.members = {}
        self.nicks = {}
        self.ready = None

    # -- start-up ---------------------------------------------------------------
    async def load(self):
        """Read rooms, members and display names; create the lobby on first start."""
        now = self._now()
        await self.store.create_room(LOBBY, "Lobby", False, None, now)
        await self.store.forget_guests()  # left behind if the last run ended without its guests leaving
        self.rooms, self.members = await self.store.load_rooms()
        self.nicks = await self.store.display_names()

    def onConnect(self):
        self.join(self.config.realm)

    async def onJoin(self, details):
        procedures = {
            "chat.user.register": self.user_register,
            "chat.user.me": self.user_me,
            "chat.room.create": self.room_create,
            "chat.room.list": self.room_list,
            "chat.room.join": self.room_join,
            "chat.room.leave": self.room_leave,
            "chat.room.invite": self.room_invite,
            "chat.room.members": self.room_members,
            "chat.dm.open": self.dm_open,
            "chat.message.send": self.message_send,
            "chat.message.history": self.message_history,
            "chat.message.edit": self.message_edit,
            "chat.message.delete": self.message_delete,
            "chat.typing": self.typing_set,
            "chat.read": self.read_set,
        }
        for uri, fn in procedures.items():
            await self.register(_guarded(fn), uri, options=RegisterOptions(details_arg="details"))
        await self.subscribe(self._session_joined, "wamp.session.on_join")
        await self.subscribe(self._session_left, "wamp.session.on_leave")
        for info in self.router_realm.sessions():
            self._session_joined(info.as_dict())
        if self.ready is not None and not self.ready.called:
            self.ready.callback(self)

    def onLeave(self, details):
        self.typing.stop_all()
        super().onLeave(details)

    # -- helpers ------------------------------------------------------------------
    def _now(self):
        return int(self.reactor.seconds() * 1000)

    def _caller(self, details):
        session = details.caller
        user, role = details.caller_authid, details.caller_authrole
        known = self.presence.session(session)
        nick = known[2] if known else self.nicks.get(user, user)
        return Caller(session, user, role, nick)

    def _nick_for(self, authid, role, authextra):
        if role == "guest":
            return (authextra or {}).get("nick") or authid
        return self.nicks.get(authid, authid)

    def can_read(self, user, room_id):
        room = self.rooms.get(room_id)
        if room is None:
            return False
        return not room["private"] or user in self.members.get(room_id, ())

    def _readable_room(self, caller, room_id):
        """The room, or not_found when it does not exist or the caller may not see it."""
        model.check_room_id(room_id)
        if not self.can_read(caller.user, room_id):
            fail(NOT_FOUND, f"no room {room_id!r}")
        return self.rooms[room_id]

    def _publish_room(self, room_id, kind, payload):
        """Publish a room event; a private room's go only to its current members.

        The authorization rule checks membership when someone subscribes; the
        eligibility list also keeps events from a subscription that outlived
        its membership (after ``chat.room.leave`` or a guest's departure).
        """
        options = None
        room = self.rooms.get(room_id)
        if room is not None and room["private"]:
            options = PublishOptions(eligible_authid=sorted(self.members.get(room_id, ())))
        self.publish(f"chat.room.{room_id}.{kind}", payload, options=options)

    def _user(self, user, nick, role):
        return {"user": user, "nick": nick, "role": role}

    async def _add_member(self, room_id, user, nick):
        """Make ``user`` a member (committed), then announce it; True if new."""
        if user in self.members.setdefault(room_id, set()):
            return False
        added = await self.store.add_member(room_id, user, self._now())
        self.members[room_id].add(user)
        if added:  # a concurrent send may have made the user a member (and announced it) meanwhile
            self._publish_room(room_id, "presence", {"user": user, "nick": nick, "event": "join"})
        return added

    # -- authorization (API.md §3), asked by the router for every chat.* URI --------
    def authorize(self, request):
        uri = request.uri
        if not uri.startswith("chat."):
            return None
        session = request.session
        if request.action in ("publish", "register"):
            return session.authrole == TRUSTED
        if request.action == "call":
            return True  # each procedure checks its own arguments and rights
        if request.match != "exact":
            if session.authrole == "admin":
                return True
            parts = uri.split(".")
            # a prefix on one readable room ("chat.room.lobby.") reaches nothing it may not read
            return (request.match == "prefix" and len(parts) >= 4 and parts[1] == "room"
                    and parts[2] != "" and self.can_read(session.authid, parts[2]))
        parts = uri.split(".")
        if uri == "chat.rooms":
            return True
        if len(parts) == 4 and parts[1] == "room":
            return self.can_read(session.authid, parts[2])
        if len(parts) == 4 and parts[1] == "user":
            return parts[2] == session.authid
        return False

    def check_join(self, info):
        """Join hook: a guest's nick must be unique among online users and not a registered name."""
        if info.authrole != "guest":
            return None
        nick = info.authextra.get("nick") or info.authid
        wanted = nick.casefold()
        if self.presence.nick_taken(nick, info.authid) or any(
            wanted in (name.casefold(), shown.casefold()) for name, shown in self.nicks.items()
        ):
            raise ApplicationError(CONFLICT, f"the nick {nick!r} is taken; choose another")
        return None

    # -- presence: sessions coming and going -----------------------------------------
    def _session_joined(self, details):
        role = details.get("authrole")
        if role == TRUSTED or details.get("authmethod") == "internal":
            return
        authid = details["authid"]
        nick = self._nick_for(authid, role, details.get("authextra"))
        if self.presence.session(details["session"]) is not None:
            return
        if self.presence.joined(details["session"], authid, role, nick):
            for room_id, members in self.members.items():
                if authid in members:
                    self._publish_room(room_id, "presence", {"user": authid, "nick": nick, "event": "online"})

    async def _session_left(self, session_id, authid=None, authrole=None):
        self.send_limit.forget(session_id)
        gone = self.presence.left(session_id)
        if gone is None:
            return
        authid, role, nick, offline = gone
        if not offline:
            return
        rooms = [room_id for room_id, members in self.members.items() if authid in members]
        for room_id in rooms:
            if self.typing.stop(room_id, authid):
                self._publish_room(room_id, "typing", {"user": authid, "nick": nick, "typing": False})
            self._publish_room(room_id, "presence", {"user": authid, "nick": nick, "event": "offline"})
        if role == "guest":
            # guests are not accounts: when the last session goes, so do their memberships
            for room_id in rooms:
                await self.store.remove_member(room_id, authid)
                self.members[room_id].discard(authid)
                self._publish_room(room_id, "presence", {"user": authid, "nick": nick, "event": "leave"})

    # -- chat.user.* ----------------------------------------------------------------
    async def user_register(self, username=None, password=None, display_name=None, details=None):
        if not self.settings.open_registration:
            fail(FORBIDDEN, "registration is closed on this server")
        model.check_username(username)
        if username.startswith("guest_"):
            fail(INVALID, "usernames starting with guest_ are reserved for guests")
        model.check_password(password)
        nick = username
        if display_name is not None:
            nick = validate_nick(display_name)
            if nick is None:
                fail(INVALID, "display_name must be 1..32 printable characters without < or >")
        if await self.store.user_exists(username):
            fail(CONFLICT, f"the username {username!r} is taken")
        creds = await deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                                        make_credentials, username, password, "user")
        try:
            await self.store.add_user(creds, nick, self._now())
        except sqlite3.IntegrityError:
            fail(CONFLICT, f"the username {username!r} is taken")
        self.nicks[username] = nick
        return self._user(username, nick, "user")

    def user_me(self, details=None):
        caller = self._caller(details)
        return self._user(caller.user, caller.nick, caller.role)

    # -- chat.room.* ------------------------------------------------------------------
    async def room_create(self, room_id=None, title=None, private=False, details=None):
        caller = self._caller(details)
        if caller.role not in ACCOUNT_ROLES:
            fail(FORBIDDEN, "creating rooms needs an account; guests may join public rooms")
        model.check_room_id(room_id, creating=True)
        title = model.check_title(title, room_id)
        model.check_bool(private, "private")
        if room_id in self.rooms:
            fail(CONFLICT, f"a room {room_id!r} exists already")
        now = self._now()
        if not await self.store.create_room(room_id, title, private, caller.user, now, [caller.user]):
            fail(CONFLICT, f"a room {room_id!r} exists already")
        room = {"id": room_id, "title": title, "private": private, "owner": caller.user, "created": now}
        self.rooms[room_id] = room
        self.members[room_id] = {caller.user}
        if not private:
            self.publish("chat.rooms", {"event": "created", "room": room})
        return room

    async def room_list(self, details=None):
        caller = self._caller(details)
        visible = [r for r in self.rooms.values() if self.can_read(caller.user, r["id"])]
        summaries = await self.store.summaries([r["id"] for r in visible], caller.user)
        result = []
        for room in sorted(visible, key=lambda r: (r["created"], r["id"])):
            unread, last = summaries[room["id"]]
            result.append(dict(room, unread=unread, last_message=last,
                               member=caller.user in self.members.get(room["id"], ())))
        return result

    async def room_join(self, room_id=None, details=None):
        caller = self._caller(details)
        room = self._readable_room(caller, room_id)
        await self._add_member(room_id, caller.user, caller.nick)
        history = await self.store.history(room_id, limit=model.HISTORY_DEFAULT)
        return {"room": room, "members": self._member_list(room_id), "history": history["messages"],
                "more": history["more"]}

    async def room_leave(self, room_id=None, details=None):
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        if caller.user not in self.members.get(room_id, ()):
            fail(NOT_FOUND, f"you are not a member of {room_id!r}")
        await self.store.remove_member(room_id, caller.user)
        self.members[room_id].discard(caller.user)
        self._publish_room(room_id, "presence", {"user": caller.user, "nick": caller.nick, "event": "leave"})
        return None

    async def room_invite(self, room_id=None, username=None, details=None):
        caller = self._caller(details)
        room = self._readable_room(caller, room_id)
        model.check_username(username)
        if not room["private"]:
            fail(INVALID, "public rooms need no invitation: anyone may join")
        if room["owner"] != caller.user and not caller.is_admin:
            fail(FORBIDDEN, "only the room's owner or an admin may invite")
        nick = await self._account_nick(username)
        if nick is None:
            fail(NOT_FOUND, f"no user {username!r}")
        await self._add_member(room_id, username, nick)
        self.publish(f"chat.user.{username}.notify", {"event": "invited", "room": room})
        return None

    def room_members(self, room_id=None, details=None):
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        return self._member_list(room_id)

    def _member_list(self, room_id):
        result = []
        for user in sorted(self.members.get(room_id, ())):
            online = self.presence.is_online(user)
            result.append({"user": user, "nick": self._shown_nick(user), "online": online})
        return result

    async def _account_nick(self, username):
        """A registered user's display name, or None.

        Asks the store when the name is not in memory, so users added with
        ``wampchat-admin`` while the server runs can be invited and DM'd.
        """
        nick = self.nicks.get(username)
        if nick is None:
            row = await self.store.get_user(username)
            if row is not None:
                nick = self.nicks[username] = row["display_name"] or username
        return nick

    def _shown_nick(self, user):
        return self.nicks.get(user) or self.presence.nick_of(user) or user

    # -- chat.dm.open -------------------------------------------------------------------
    async def dm_open(self, username=None, details=None):
        caller = self._caller(details)
        model.check_username(username)
        if username == caller.user:
            fail(INVALID, "a direct message needs someone else")
        if not self.presence.is_online(username) and await self._account_nick(username) is None:
            fail(NOT_FOUND, f"no user {username!r}")
        room_id = model.dm_room_id(caller.user, username)
        room = self.rooms.get(room_id)
        if room is None:
            now = self._now()
            first, second = sorted((caller.user, username))
            room = {"id": room_id, "title": f"{first} & {second}", "private": True, "owner": None, "created": now}
            await self.store.create_room(room_id, room["title"], True, None, now, [first, second])
            self.rooms[room_id] = room
            self.members[room_id] = {first, second}
            self.publish(f"chat.user.{username}.notify", {"event": "dm", "room": room})
        return room

    # -- chat.message.* -----------------------------------------------------------------
    async def message_send(self, room_id=None, text=None, client_msg_id=None, details=None):
        started = self.reactor.seconds()
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        model.check_text(text)
        model.check_client_msg_id(client_msg_id)
        if not self.send_limit.allow(caller.session):
            fail(RATE_LIMITED, f"at most {self.settings.send_rate} messages per 10 seconds")
        msg_id, ts = self.ids.next()
        message, created, joined = await self.store.add_message(msg_id, room_id, caller.user, caller.nick, text,
                                                                ts, client_msg_id)
        if created:
            # no await between the commit and the event: events leave in id order
            self.members.setdefault(room_id, set()).add(caller.user)
            if joined:
                self._publish_room(room_id, "presence", {"user": caller.user, "nick": caller.nick, "event": "join"})
            if self.typing.stop(room_id, caller.user):
                self._publish_room(room_id, "typing", {"user": caller.user, "nick": caller.nick, "typing": False})
            self._publish_room(room_id, "message", message)
        self.send_duration.observe(self.reactor.seconds() - started)
        return message

    async def message_history(self, room_id=None, before=None, after=None, limit=None, details=None):
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        if before is not None:
            model.check_message_id(before, "before")
        if after is not None:
            model.check_message_id(after, "after")
        limit = model.check_limit(limit)
        return await self.store.history(room_id, before=before, after=after, limit=limit)

    async def _own_message(self, caller, room_id, message_id):
        self._readable_room(caller, room_id)
        model.check_message_id(message_id)
        message = await self.store.get_message(room_id, message_id)
        if message is None or message.get("deleted"):
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        return message

    async def message_edit(self, room_id=None, message_id=None, text=None, details=None):
        caller = self._caller(details)
        model.check_text(text)
        message = await self._own_message(caller, room_id, message_id)
        if message["user"] != caller.user:
            fail(FORBIDDEN, "only the author may edit a message")
        edited = await self.store.edit_message(message_id, text, self._now())
        self._publish_room(room_id, "edit", edited)
        return edited

    async def message_delete(self, room_id=None, message_id=None, details=None):
        caller = self._caller(details)
        message = await self._own_message(caller, room_id, message_id)
        owner = self.rooms[room_id]["owner"]
        if caller.user not in (message["user"], owner) and not caller.is_admin:
            fail(FORBIDDEN, "only the author, the room's owner or an admin may delete a message")
        await self.store.delete_message(message_id)
        self._publish_room(room_id, "delete", {"id": message_id, "room": room_id})
        return None

    # -- chat.typing / chat.read ------------------------------------------------------------
    def typing_set(self, room_id=None, typing=None, details=None):
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        model.check_bool(typing, "typing")
        if typing:
            self.typing.start(room_id, caller.user, caller.nick)
        elif not self.typing.stop(room_id, caller.user):
            return None
        self._publish_room(room_id, "typing", {"user": caller.user, "nick": caller.nick, "typing": typing})
        return None

    def _typing_expired(self, room_id, user, nick):
        self._publish_room(room_id, "typing", {"user": user, "nick": nick, "typing": False})

    async def read_set(self, room_id=None, message_id=None, details=None):
        caller = self._caller(details)
        self._readable_room(caller, room_id)
        model.check_message_id(message_id)
        if await self.store.get_message(room_id, message_id) is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        marker = await self.store.mark_read(room_id, caller.user, message_id)
        if marker == message_id:
            self._publish_room(room_id, "read", {"user": caller.user, "message_id": message_id})
        return None


def _guarded(fn):
    """Wrap a procedure so wrong argument shapes become invalid_argument, not internal errors.

    A TypeError from calling with unknown or too many arguments is the caller's
    mistake; anything else unexpected is logged and answered as unavailable.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    async def procedure(*args, **kwargs):
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            fail(INVALID, f"bad arguments: {e}")
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except ApplicationError:
            raise
        except Exception:
            ChatService.log.failure("chat procedure {name} failed", name=fn.__name__)
            raise ApplicationError(model.UNAVAILABLE, "the chat service could not complete this request")

    return procedure
