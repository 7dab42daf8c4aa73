"""
The chat service: ``chat.*`` procedures and topics, inside the router.

It is an ordinary Autobahn ``ApplicationSession`` joined in-process (role
``trusted``), so every caller's identity comes from the router
(``details.caller_authid``), never from the request. Its procedures and
events go through the realm's direct routes (function calls into the
dealer and broker, :mod:`wampchat.router.inprocess`); the same code runs as a
component outside the router given routes over its Autobahn session.
State lives in the store (SQLite or a PostgreSQL shared by a cluster): the
service keeps only what cannot go stale (rooms, which never change once
created), this node's own sessions, typing timers and rate limits. An
event is published only after the change it announces is committed.
"""
import functools
import inspect
from collections import OrderedDict

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CloseDetails
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure

from wampchat.chat import checks
from wampchat.chat.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, RATE_LIMITED, UNAVAILABLE, fail
from wampchat.chat.limits import RateWindow
from wampchat.chat.presence import Presence, TypingTimers
from wampchat.chat.search import parse_query
from wampchat.chat.sends import TOO_MANY, SendRate, SendRequest, add_messages
from wampchat.chat.store import ReactionRefused
from wampchat.names import NameRefused, name_skeleton
from wampchat.router.auth import validate_nick
from wampchat.router.authorize import TRUSTED
from wampchat.router.credentials import make_credentials
from wampchat.router.outage import OutageNotice
from wampchat.storage import Conflict, StoreUnavailable

LOBBY = "lobby"
ACCOUNT_ROLES = ("user", "admin", "service")
TYPING_TIMEOUT = 6.0
ROOM_CACHE_SIZE = 10000
LOGIN_NICKS_KEPT = 10000
SEND_WINDOW_MS = 10_000
ABUSE_WINDOW = 3600.0    # seconds over which registrations and room creations are counted
# How this in-process session ends when the node stops or it leaves itself (see ChatService.onLeave).
ORDERLY_ENDS = frozenset({"wamp.close.system_shutdown", "wamp.close.goodbye_and_out",
                          CloseDetails.REASON_TRANSPORT_LOST})
REACT_RATE = 60            # reactions (on or off) one user may give per 10 s on a node


class ChatSettings:
    """What the operator can tune (twistd options)."""

    def __init__(self, open_registration=True, send_rate=20, node_id="node", register_rate=20, create_rate=20,
                 guest_send_rate=40, dm_rate=20, dm_address_rate=60):
        self.open_registration = open_registration
        self.send_rate = send_rate
        self.guest_send_rate = guest_send_rate  # messages all guests of one address may send per 10 s
        self.dm_rate = dm_rate                  # new DM rooms one user may open per hour
        self.dm_address_rate = dm_address_rate  # new DM rooms everyone at one address may open per hour
        self.register_rate = register_rate    # accounts one address may register per hour
        self.create_rate = create_rate        # rooms one user may create per hour
        self.node_id = node_id
        # names nobody may register (the broker's node users, --amqp-node-users): a chat account may
        # never share a name with a broker identity that speaks for the cluster
        self.reserved_names: frozenset = frozenset()


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


class RoomCache:
    """Rooms by id, read through from the store. Rooms never change once created, so nothing goes stale;
    a miss asks the store (a room another node created a moment ago is found)."""

    def __init__(self, store, size=ROOM_CACHE_SIZE):
        self._store = store
        self._size = size
        self._rooms = OrderedDict()

    def peek(self, room_id):
        return self._rooms.get(room_id)

    def put(self, room):
        self._rooms[room["id"]] = room
        if len(self._rooms) > self._size:
            self._rooms.popitem(last=False)

    async def get(self, room_id):
        room = self._rooms.get(room_id)
        if room is None:
            room = await self._store.get_room(room_id)
            if room is not None:
                self.put(room)
        return room


class ChatService(ApplicationSession):
    """Implements the chat API on top of a :class:`~wampchat.chat.store.ChatStore`."""

    log = Logger()

    def __init__(self, config, store, realm, reactor, settings):
        super().__init__(config)
        self.store = store
        self.router_realm = realm
        self.reactor = reactor
        self.settings = settings
        self.rooms = RoomCache(store)
        self.sessions = Presence()         # this node's sessions
        self.cluster = None                # a ClusterPresence, set by the runtime before joining
        self.typing = TypingTimers(reactor, TYPING_TIMEOUT, self._typing_expired)
        # every limit is kept per user or per address, never per session: reconnecting resets nothing
        self.send_limit = RateWindow(reactor, settings.send_rate, SEND_WINDOW_MS / 1000)
        self.react_limit = RateWindow(reactor, REACT_RATE, SEND_WINDOW_MS / 1000)
        # guests are new users at every login, so what they send is also counted per client address
        self.guest_send_limit = RateWindow(reactor, settings.guest_send_rate, SEND_WINDOW_MS / 1000)
        self.guest_react_limit = RateWindow(reactor, REACT_RATE, SEND_WINDOW_MS / 1000)
        self._early_presence = []          # presence changes found while starting (a previous run's users)
        self.database_outage = OutageNotice(reactor, "the chat database (logins)")
        self._login_nicks = OrderedDict()  # session id -> display name, from the join hook to the join
        # one node counts a user's sends itself; nodes sharing a database count them there
        rate = SendRate(settings.send_rate, SEND_WINDOW_MS) if store.engine.shared else None
        # /metrics: batches against items shows how many sends one commit (one fsync) serves
        batches = realm.metrics.counter("wampchat_chat_send_batches_total",
                                        "group commits of chat.message.send (one transaction each)")
        items = realm.metrics.counter("wampchat_chat_send_items_total",
                                      "chat.message.send requests taken into those group commits")

        def counted(size):
            batches.value += 1
            items.value += size

        self.sends = store.database.group_commit(add_messages, rate, on_batch=counted)
        self.send_duration = realm.metrics.histogram(  # /metrics; observed in message_send
            "wampchat_chat_send_duration_seconds", "chat.message.send calls, from invocation to a successful result")
        self.ready = None
        self.routes = None                 # where procedures register and events publish: set on joining

    # -- start-up ---------------------------------------------------------------
    async def load(self):
        """Create the lobby on first start."""
        await self.store.create_room(LOBBY, "Lobby", False, None, self._now())

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
            "chat.message.search": self.message_search,
            "chat.message.react": self.message_react,
            "chat.typing": self.typing_set,
            "chat.read": self.read_set,
        }
        # calls and events go straight to the router's dealer and broker, not as WAMP messages
        self.routes = self.router_realm.service_routes(self, details.session)
        for uri, fn in procedures.items():
            await self.routes.register(uri, _guarded(fn))
        await self.subscribe(self._session_joined, "wamp.session.on_join")
        await self.subscribe(self._session_left, "wamp.session.on_leave")
        for info in self.router_realm.sessions():
            self._session_joined(info.as_dict())
        if self.ready is not None and not self.ready.called:
            self.ready.callback(self)
        early, self._early_presence = self._early_presence, []
        for change in early:
            self.announce_presence(change)

    def onLeave(self, details):
        """Autobahn warns about any end but wamp.close.normal; for this in-process session the others are a
        node stopping (GOODBYE system_shutdown, and the in-memory transport closing in the same call) or
        its own leave answered (goodbye_and_out): not warnings. A router-side abort logs its own error."""
        self.typing.stop_all()
        if details.reason in ORDERLY_ENDS:
            details = CloseDetails(CloseDetails.REASON_DEFAULT, details.message)
        return super().onLeave(details)

    # -- helpers ------------------------------------------------------------------
    def _now(self):
        return int(self.reactor.seconds() * 1000)

    async def _caller(self, details):
        caller = self._caller_here(details)
        if caller is not None:
            return caller
        # a caller without a session here (e.g. an AMQP service): its display name, if it has one
        user = details.caller_authid
        return Caller(details.caller, user, details.caller_authrole, await self.store.display_name(user) or user)

    def _caller_here(self, details):
        """The caller, if its session is on this node (its nick is known without asking the store), else None."""
        known = self.sessions.session(details.caller)
        if known is None:
            return None
        return Caller(details.caller, details.caller_authid, details.caller_authrole, known[2])

    def _address(self, details):
        """The caller's network address without its port (per-address limits), or its authid when it has
        none (an in-process or AMQP caller)."""
        return self._address_of(details.caller, details.caller_authid)

    def _address_of(self, session_id, authid):
        info = self.router_realm.session_info(session_id) if session_id is not None else None
        peer = (info.transport or {}).get("peer") if info is not None else None
        if not peer or not peer.startswith("tcp"):
            return authid
        return peer.rsplit(":", 1)[0]

    async def _counted(self, kind, keys, count, refusal, window=ABUSE_WINDOW):
        """Count one ``kind`` event for ``keys`` in the database (every node counts in one place), or refuse
        with rate_limited and ``retry_after`` when one key is at ``count`` within ``window`` seconds."""
        wait_ms = await self.store.take_rate(kind, keys, count, int(window * 1000), self._now())
        if wait_ms is not None:
            raise ApplicationError(RATE_LIMITED, refusal, retry_after=round(wait_ms / 1000, 3))

    def _is_online_here(self, user):
        return self.sessions.is_online(user)

    async def may_read(self, user, room_id):
        """Public rooms are open to everyone signed in; private rooms (and DMs) to their members."""
        room = await self.rooms.get(room_id)
        if room is None:
            return False
        return not room["private"] or await self.store.is_member(room_id, user)

    async def _readable_room(self, caller, room_id):
        """The room, or not_found when it does not exist or the caller may not see it."""
        checks.check_room_id(room_id)
        room = await self.rooms.get(room_id)
        if room is None or (room["private"] and not await self.store.is_member(room_id, caller.user)):
            fail(NOT_FOUND, f"no room {room_id!r}")
        return room

    def _publish(self, room_id, kind, payload, audience):
        """Publish a room event; ``audience`` (a private room's members) limits who gets it.

        The authorization rule checks membership when someone subscribes; the
        eligibility list also keeps events from a subscription that outlived
        its membership (after ``chat.room.leave`` or a guest's departure).
        """
        self.routes.publish(f"chat.room.{room_id}.{kind}", [payload], eligible_authid=audience)

    async def _publish_room(self, room, kind, payload):
        """Publish to a room, asking the store for a private room's current members."""
        audience = await self.store.member_names(room["id"]) if room["private"] else None
        self._publish(room["id"], kind, payload, audience)

    def _notify(self, username, payload):
        """``chat.user.<username>.notify``, to that user only (so it never reaches a shared exchange)."""
        self.routes.publish(f"chat.user.{username}.notify", [payload], eligible_authid=[username])

    def _user(self, user, nick, role):
        return {"user": user, "nick": nick, "role": role}

    async def _add_member(self, room, user, nick):
        """Make ``user`` a member (committed), then announce it; True if new."""
        added = await self.store.add_member(room["id"], user, self._now())
        if added:
            await self._publish_room(room, "presence", {"user": user, "nick": nick, "event": "join"})
        return added

    # -- authorization, asked by the router for every chat.* URI ------------------------
    def authorize(self, request):
        uri = request.uri
        if not uri.startswith("chat."):
            return None
        session = request.session
        if request.action in ("publish", "register"):
            return session.authrole == TRUSTED
        if request.action == "call":
            return True  # each procedure checks its own arguments and rights
        parts = uri.split(".")
        if request.match != "exact":
            if session.authrole == "admin":
                return True
            # a prefix on one readable room ("chat.room.lobby.") reaches nothing it may not read
            if request.match == "prefix" and len(parts) >= 4 and parts[1] == "room" and parts[2] != "":
                return self._may_read_now(session.authid, parts[2])
            return False
        if uri == "chat.rooms":
            return True
        if len(parts) == 4 and parts[1] == "room":
            return self._may_read_now(session.authid, parts[2])
        if len(parts) == 4 and parts[1] == "user":
            return parts[2] == session.authid
        return False

    def _may_read_now(self, user, room_id):
        """True at once for a known public room; otherwise a Deferred asking the store."""
        room = self.rooms.peek(room_id)
        if room is not None and not room["private"]:
            return True
        return defer.ensureDeferred(self.may_read(user, room_id)).addErrback(self._authorization_failed)

    def _authorization_failed(self, failure):
        failure.trap(StoreUnavailable)
        self.log.warn("authorization refused, the database is unavailable: {e}", e=failure.value)
        return False

    async def check_join(self, info):
        """Join hook: a guest's nick must be unique among online users and not a registered name;
        an account shows its display name (looked up now, so the session arrives with it). While the
        database is away the join is refused as ``unavailable`` (one warning per outage, not per login)."""
        if info.authrole == TRUSTED or info.authmethod == "internal":
            return None
        try:
            await self._check_join(info)
        except StoreUnavailable as e:
            self.database_outage.refused(e)
            raise ApplicationError(UNAVAILABLE, "the chat database is unavailable; try again shortly")
        self.database_outage.recovered()
        return None

    async def _check_join(self, info):
        if info.authrole != "guest":
            self._login_nicks[info.id] = await self.store.display_name(info.authid) or info.authid
            if len(self._login_nicks) > LOGIN_NICKS_KEPT:  # joins refused after the hook never claim theirs
                self._login_nicks.popitem(last=False)
            return None
        nick = info.authextra.get("nick") or info.authid
        if self.sessions.nick_taken(nick, info.authid) or await self.store.name_in_use(name_skeleton(nick),
                                                                                        info.authid):
            raise ApplicationError(CONFLICT, f"the nick {nick!r} is taken or looks like a name in use; choose another")
        return None

    # -- presence: sessions coming and going -----------------------------------------
    def _session_joined(self, details):
        role = details.get("authrole")
        if role == TRUSTED or details.get("authmethod") == "internal":
            return
        authid = details["authid"]
        if self.sessions.session(details["session"]) is not None:
            return
        if role == "guest":
            nick = (details.get("authextra") or {}).get("nick") or authid
        else:
            nick = self._login_nicks.pop(details["session"], None) or authid
        if self.sessions.joined(details["session"], authid, role, nick):
            self.cluster.arrived(authid, role, nick)

    async def _session_left(self, session_id, authid=None, authrole=None):
        gone = self.sessions.left(session_id)
        if gone is None:
            return
        authid, role, nick, last_here = gone
        if not last_here:
            return
        for room_id in self.typing.stop_user(authid):
            room = self.rooms.peek(room_id) or await self.rooms.get(room_id)
            if room is not None:
                await self._publish_room(room, "typing", {"user": authid, "nick": nick, "typing": False})
        await self.cluster.departed(authid, role, nick)

    def announce_presence(self, change):
        """A user came online or went offline in the cluster (this node decided): tell their rooms."""
        if not self.is_attached():
            if self.ready is None or not self.ready.called:  # starting: told once we serve
                self._early_presence.append(change)
            return  # shutting down: the other nodes take over
        event = "online" if change.online else "offline"
        for room_id, audience in change.rooms:
            self._publish(room_id, "presence", {"user": change.user, "nick": change.nick, "event": event}, audience)
            if change.left:
                self._publish(room_id, "presence", {"user": change.user, "nick": change.nick, "event": "leave"},
                              audience)

    # -- chat.user.* ----------------------------------------------------------------
    async def user_register(self, username=None, password=None, display_name=None, details=None):
        if not self.settings.open_registration:
            fail(FORBIDDEN, "registration is closed on this server")
        checks.check_username(username)
        if username.startswith("guest_"):
            fail(INVALID, "usernames starting with guest_ are reserved for guests")
        checks.check_password(password)
        address = self._address(details)
        await self._counted("register", [address], self.settings.register_rate,
                            f"at most {self.settings.register_rate} registrations per hour from one address")
        nick = username
        if display_name is not None:
            try:
                nick = validate_nick(display_name)
            except NameRefused as refused:
                fail(INVALID, f"invalid display_name: {refused}")
        if self._reserved(username) or await self.store.get_user(username) is not None:
            fail(CONFLICT, f"the username {username!r} is taken")
        if nick != username and self._reserved(nick):
            fail(CONFLICT, f"{nick!r} is taken or looks like a name in use; choose another")
        for name in dict.fromkeys((username, nick)):  # neither may look like a user's name or an online nick
            if self.sessions.nick_taken(name, details.caller_authid) or await self.store.name_in_use(
                    name_skeleton(name), details.caller_authid or ""):
                fail(CONFLICT, f"{name!r} is taken or looks like a name in use; choose another")
        creds = await deferToThreadPool(self.reactor, self.reactor.getThreadPool(),
                                        make_credentials, username, password, "user")
        try:
            await self.store.add_user(creds, nick, self._now())
        except Conflict:
            fail(CONFLICT, f"the username {username!r} is taken")
        return self._user(username, nick, "user")

    def _reserved(self, name: str) -> bool:
        """Is ``name`` (or a name that looks like it) one of the settings' reserved names?"""
        key = name_skeleton(name)
        return any(name_skeleton(reserved) == key for reserved in self.settings.reserved_names)

    async def user_me(self, details=None):
        caller = await self._caller(details)
        return self._user(caller.user, caller.nick, caller.role)

    # -- chat.room.* ------------------------------------------------------------------
    async def room_create(self, room_id=None, title=None, private=False, details=None):
        caller = await self._caller(details)
        if caller.role not in ACCOUNT_ROLES:
            fail(FORBIDDEN, "creating rooms needs an account; guests may join public rooms")
        checks.check_room_id(room_id, creating=True)
        title = checks.check_title(title, room_id)
        checks.check_bool(private, "private")
        await self._counted("create", [caller.user], self.settings.create_rate,
                            f"at most {self.settings.create_rate} new rooms per hour")
        now = self._now()
        if not await self.store.create_room(room_id, title, private, caller.user, now, [caller.user]):
            fail(CONFLICT, f"a room {room_id!r} exists already")
        room = {"id": room_id, "title": title, "private": private, "owner": caller.user, "created": now}
        self.rooms.put(room)
        if not private:
            self.routes.publish("chat.rooms", [{"event": "created", "room": room}])
        return room

    async def room_list(self, after=None, limit=None, details=None):
        """The rooms the caller can see, oldest first: up to ``limit`` (1..500, default 500) after the room
        ``after``; a full page means there may be more."""
        caller = await self._caller(details)
        if after is not None:
            checks.check_room_id(after)
        limit = checks.check_limit(limit, checks.ROOMS_MAX, checks.ROOMS_MAX)
        return await self.store.visible_rooms(caller.user, after, limit)

    async def room_join(self, room_id=None, details=None):
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        await self._add_member(room, caller.user, caller.nick)
        page = await self.store.join_page(room_id, limit=checks.HISTORY_DEFAULT)
        members = await self._member_list(room_id, None, checks.MEMBERS_MAX + 1)
        return {"room": room, "members": members[:checks.MEMBERS_MAX], "members_more": len(members) > checks.MEMBERS_MAX,
                "history": page["messages"], "more": page["more"], "changes": page["changes"], "reads": page["reads"]}

    async def room_leave(self, room_id=None, details=None):
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        if not await self.store.remove_member(room_id, caller.user):
            fail(NOT_FOUND, f"you are not a member of {room_id!r}")
        await self._publish_room(room, "presence", {"user": caller.user, "nick": caller.nick, "event": "leave"})
        return None

    async def room_invite(self, room_id=None, username=None, details=None):
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        checks.check_username(username)
        if not room["private"]:
            fail(INVALID, "public rooms need no invitation: anyone may join")
        if room["owner"] != caller.user and not caller.is_admin:
            fail(FORBIDDEN, "only the room's owner or an admin may invite")
        nick = await self.store.display_name(username)
        if nick is None:
            fail(NOT_FOUND, f"no user {username!r}")
        await self._add_member(room, username, nick)
        self._notify(username, {"event": "invited", "room": room})
        return None

    async def room_members(self, room_id=None, after=None, limit=None, details=None):
        """Members by username, at most ``limit`` (1..1000, all of them up to 1000 by default) after ``after``."""
        caller = await self._caller(details)
        await self._readable_room(caller, room_id)
        if after is not None:
            checks.check_username(after, "after")
        limit = checks.check_limit(limit, checks.MEMBERS_MAX, checks.MEMBERS_MAX)
        return await self._member_list(room_id, after, limit)

    async def _member_list(self, room_id, after, limit):
        result = []
        for user, display_name, online_nick in await self.store.members(room_id, after, limit):
            here = self.sessions.nick_of(user)
            online = online_nick is not None or here is not None
            result.append({"user": user, "nick": display_name or online_nick or here or user, "online": online})
        return result

    # -- chat.dm.open -------------------------------------------------------------------
    async def dm_open(self, username=None, details=None):
        caller = await self._caller(details)
        checks.check_username(username)
        if username == caller.user:
            fail(INVALID, "a direct message needs someone else")
        if not self._is_online_here(username) and await self.store.known_user(username) is None:
            fail(NOT_FOUND, f"no user {username!r}")
        if await self.store.find_dm(caller.user, username) is None:   # only a new DM room counts
            await self._counted("dm", [caller.user], self.settings.dm_rate,
                                f"at most {self.settings.dm_rate} new direct-message rooms per hour")
            address = self._address(details)
            await self._counted("dm_address", [address], self.settings.dm_address_rate,
                                f"at most {self.settings.dm_address_rate} new direct-message rooms per hour from "
                                "one address")
        room, created = await self.store.open_dm(caller.user, username, self._now())
        self.rooms.put(room)
        if created:
            self._notify(username, {"event": "dm", "room": room})
        return room

    # -- chat.message.* -----------------------------------------------------------------
    def message_send(self, room_id=None, text=None, client_msg_id=None, details=None):
        """A plain function, not a coroutine: the common case (a caller with a session here, writing to a public
        room already known) reaches the group commit and its answer with no coroutine in between."""
        started = self.reactor.seconds()
        checks.check_room_id(room_id)
        caller = self._caller_here(details)
        room = self.rooms.peek(room_id) if caller is not None else None
        if room is None or room["private"]:
            return defer.Deferred.fromCoroutine(self._message_send_looked_up(room_id, text, client_msg_id,
                                                                              details, started))
        return self._submit_send(caller, room, text, client_msg_id, started)

    async def _message_send_looked_up(self, room_id, text, client_msg_id, details, started):
        """message_send once the store has told who is calling and whether they may read the room."""
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        return await self._submit_send(caller, room, text, client_msg_id, started)

    def _submit_send(self, caller, room, text, client_msg_id, started):
        text = checks.check_text(text)
        checks.check_client_msg_id(client_msg_id)
        if not self.send_limit.allow(caller.user):
            _rate_limited(f"at most {self.settings.send_rate} messages per 10 seconds", self.send_limit, caller.user)
        if caller.role == "guest":
            address = self._address_of(caller.session, caller.user)
            if not self.guest_send_limit.allow(address):
                _rate_limited(f"guests at one address may send at most {self.settings.guest_send_rate} messages "
                              "per 10 seconds", self.guest_send_limit, address)
        request = SendRequest(room["id"], caller.user, caller.nick, text, self._now(), client_msg_id)
        return self.sends.submit(request).addCallback(self._sent, caller, room, started)

    def _sent(self, outcome, caller, room, started):
        """The batch holding this send committed: publish what it changed, answer the caller."""
        room_id = room["id"]
        if outcome.refused == TOO_MANY:
            fail(RATE_LIMITED, f"at most {self.settings.send_rate} messages per 10 seconds (on all nodes)")
        if outcome.refused:
            fail(NOT_FOUND, f"no room {room_id!r}")
        if outcome.created:
            # no await between the commit and the event: a node's events leave in id order
            if outcome.joined:
                self._publish(room_id, "presence", {"user": caller.user, "nick": caller.nick, "event": "join"},
                              outcome.audience)
            if self.typing.stop(room_id, caller.user):
                self._publish(room_id, "typing", {"user": caller.user, "nick": caller.nick, "typing": False},
                              outcome.audience)
            self._publish(room_id, "message", outcome.message, outcome.audience)
            for user in outcome.message.get("mentions", ()):
                if user != caller.user:
                    self._notify(user, {"event": "mention", "room": room, "message": outcome.message})
        self.send_duration.observe(self.reactor.seconds() - started)
        return outcome.message

    async def message_history(self, room_id=None, before=None, after=None, limit=None, changed_after=None,
                              details=None):
        """A page of history by id (``before``/``after``), or with ``changed_after`` the messages edited,
        deleted or reacted to since that change cursor (what a client missed about messages it has)."""
        caller = await self._caller(details)
        await self._readable_room(caller, room_id)
        if before is not None:
            checks.check_message_id(before, "before")
        if after is not None:
            checks.check_message_id(after, "after")
        limit = checks.check_limit(limit)
        if changed_after is not None:
            checks.check_cursor(changed_after, "changed_after")
            if before is not None or after is not None:
                fail(INVALID, "changed_after goes alone: it pages by change, not by message id")
            return await self.store.changes(room_id, changed_after, limit)
        return await self.store.history(room_id, before=before, after=after, limit=limit)

    async def message_search(self, query=None, room=None, before=None, limit=None, details=None):
        """Full-text search over every room the caller may read (or one of them), newest first."""
        caller = await self._caller(details)
        parsed = parse_query(query)
        if room is not None:
            await self._readable_room(caller, room)
        if before is not None:
            checks.check_message_id(before, "before")
        limit = checks.check_limit(limit, checks.SEARCH_DEFAULT, checks.SEARCH_MAX)
        return await self.store.search(caller.user, parsed, room, before, limit)

    async def message_react(self, room_id=None, message_id=None, emoji=None, on=True, details=None):
        """Add (or with ``on=false`` take back) the caller's reaction; the Message with every reaction.

        Anyone who may read the room may react. Unlike sending, reacting
        does not make the caller a member of a public room: a reaction is
        a glance, not joining the conversation.
        """
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        checks.check_message_id(message_id)
        checks.check_emoji(emoji)
        checks.check_bool(on, "on")
        if not self.react_limit.allow(caller.user):
            _rate_limited(f"at most {REACT_RATE} reactions per 10 seconds", self.react_limit, caller.user)
        if caller.role == "guest":
            address = self._address_of(caller.session, caller.user)
            if not self.guest_react_limit.allow(address):
                _rate_limited(f"guests at one address may give at most {REACT_RATE} reactions per 10 seconds",
                              self.guest_react_limit, address)
        try:
            result = await self.store.react(room_id, message_id, caller.user, emoji, on, self._now())
        except ReactionRefused as e:
            fail(CONFLICT, str(e))
        if result is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        message, changed = result
        if changed:
            await self._publish_room(room, "reaction", {"id": message_id, "room": room_id, "emoji": emoji,
                                                        "user": caller.user, "on": on})
        return message

    async def _own_message(self, caller, room_id, message_id):
        room = await self._readable_room(caller, room_id)
        checks.check_message_id(message_id)
        message = await self.store.get_message(room_id, message_id)
        if message is None or message.get("deleted"):
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        return room, message

    async def message_edit(self, room_id=None, message_id=None, text=None, details=None):
        caller = await self._caller(details)
        text = checks.check_text(text)
        room, message = await self._own_message(caller, room_id, message_id)
        if message["user"] != caller.user:
            fail(FORBIDDEN, "only the author may edit a message")
        edited = await self.store.edit_message(room_id, message_id, text, self._now())
        await self._publish_room(room, "edit", edited)
        return edited

    async def message_delete(self, room_id=None, message_id=None, details=None):
        caller = await self._caller(details)
        room, message = await self._own_message(caller, room_id, message_id)
        if caller.user not in (message["user"], room["owner"]) and not caller.is_admin:
            fail(FORBIDDEN, "only the author, the room's owner or an admin may delete a message")
        await self.store.delete_message(room_id, message_id)
        await self._publish_room(room, "delete", {"id": message_id, "room": room_id})
        return None

    # -- chat.typing / chat.read ------------------------------------------------------------
    async def typing_set(self, room_id=None, typing=None, details=None):
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        checks.check_bool(typing, "typing")
        if typing:
            self.typing.start(room_id, caller.user, caller.nick)
        elif not self.typing.stop(room_id, caller.user):
            return None
        await self._publish_room(room, "typing", {"user": caller.user, "nick": caller.nick, "typing": typing})
        return None

    def _typing_expired(self, room_id, user, nick):
        room = self.rooms.peek(room_id)
        if room is not None:
            payload = {"user": user, "nick": nick, "typing": False}
            defer.ensureDeferred(self._publish_room(room, "typing", payload)).addErrback(
                lambda f: self.log.warn("typing end in {room} not announced: {e}", room=room_id, e=f.value))

    async def read_set(self, room_id=None, message_id=None, details=None):
        caller = await self._caller(details)
        room = await self._readable_room(caller, room_id)
        checks.check_message_id(message_id)
        if await self.store.get_message(room_id, message_id) is None:
            fail(NOT_FOUND, f"no message {message_id!r} in {room_id!r}")
        marker = await self.store.mark_read(room_id, caller.user, message_id)
        if marker == message_id:
            await self._publish_room(room, "read", {"user": caller.user, "message_id": message_id})
        return None


def _rate_limited(text, window, key):
    """Refuse with rate_limited, telling the caller when it may try again (kwarg ``retry_after``, seconds)."""
    raise ApplicationError(RATE_LIMITED, text, retry_after=round(window.retry_after(key), 3))


def _guarded(fn):
    """Wrap a procedure so wrong argument shapes become invalid_argument, not internal errors.

    A TypeError from calling with unknown or too many arguments is the
    caller's mistake; a database that is away is ``unavailable`` (logged as a
    warning, the caller may retry); anything else unexpected is logged with
    its traceback and answered as unavailable. The wrapper is a plain
    function: it returns the procedure's value, or a Deferred (a coroutine's
    is wrapped in one), with the same errors mapped on it.
    """
    name = fn.__name__
    is_async = inspect.iscoroutinefunction(fn)
    binds = None if is_async else _binding_check(fn)

    @functools.wraps(fn)
    def procedure(*args, **kwargs):
        if binds is not None:
            binds(args, kwargs)
        try:
            result = fn(*args, **kwargs)  # a coroutine function binds its arguments here; none of its body runs
        except TypeError as e:
            if is_async:
                fail(INVALID, f"bad arguments: {e}")
            _procedure_error(Failure(), name)
        except ApplicationError:
            raise
        except Exception:
            _procedure_error(Failure(), name)
        if is_async:
            result = defer.Deferred.fromCoroutine(result)
        if isinstance(result, defer.Deferred):
            result.addErrback(_procedure_error, name)
        return result

    return procedure


def _binding_check(fn):
    """A fast check that (args, kwargs) bind to ``fn``'s signature; the full ``inspect`` binding (and its
    message) only for calls that look wrong. Raises invalid_argument."""
    signature = inspect.signature(fn)
    ordered = tuple(signature.parameters)
    names = frozenset(ordered)
    simple = all(p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
                 for p in signature.parameters.values())

    def binds(args, kwargs):
        if simple and len(args) <= len(ordered) and names.issuperset(kwargs) and \
                kwargs.keys().isdisjoint(ordered[:len(args)]):
            return
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            fail(INVALID, f"bad arguments: {e}")
    return binds


def _procedure_error(failure, name):
    """Raise the ApplicationError a caller gets for ``failure``."""
    if failure.check(ApplicationError):
        failure.raiseException()
    if failure.check(StoreUnavailable):
        ChatService.log.warn("chat procedure {name}: {e}", name=name, e=failure.value)
        raise ApplicationError(UNAVAILABLE, "the chat database is unavailable; try again shortly")
    ChatService.log.failure("chat procedure {name} failed", failure=failure, name=name)
    raise ApplicationError(UNAVAILABLE, "the chat service could not complete this request")
