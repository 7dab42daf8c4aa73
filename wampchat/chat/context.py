"""
What every API area of the chat shares: the store, the clock, the settings, the room cache, this node's
sessions, and how an area learns who calls and tells rooms and users what changed.

Each area (accounts, rooms, DMs, messages, reading, presence) gets one
:class:`ChatContext` rather than the whole service, so it sees what it uses.
"""
from collections import OrderedDict


from wampchat.chat.errors import rate_limited
from wampchat.chat.sessions import NodeSessions

ROOM_CACHE_SIZE = 10000
ABUSE_WINDOW = 3600.0    # seconds over which registrations, room creations and new DMs are counted


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


def transport_address(transport, fallback: str) -> str:
    """A session's network address without its port (``tcp4:1.2.3.4``), or ``fallback`` when it has none (an
    in-process or AMQP caller)."""
    peer = (transport or {}).get("peer")
    if not peer or not peer.startswith("tcp"):
        return fallback
    return peer.rsplit(":", 1)[0]


FIXED_ROOM_FIELDS = ("id", "private", "owner", "created")   # what never changes once a room is created


class RoomCache:
    """Rooms by id, read through from the store: only what never changes once a room is created (id, private,
    owner, created), so nothing goes stale on any node; a miss asks the store (a room another node created a
    moment ago is found). What can change (title, topic, read-only, slow mode, retention) is read from the
    store where it is used (:meth:`ChatStore.get_room`, and the send batch under the room's lock)."""

    def __init__(self, store, size=ROOM_CACHE_SIZE):
        self._store = store
        self._size = size
        self._rooms = OrderedDict()

    def peek(self, room_id):
        return self._rooms.get(room_id)

    def put(self, room):
        self._rooms[room["id"]] = {field: room[field] for field in FIXED_ROOM_FIELDS}
        if len(self._rooms) > self._size:
            self._rooms.popitem(last=False)

    async def get(self, room_id):
        room = self._rooms.get(room_id)
        if room is None:
            room = await self._store.get_room(room_id)
            if room is not None:
                self.put(room)
                room = self._rooms.get(room_id)
        return room


class ChatContext:
    """The parts the chat's areas share; ``routes`` (the realm's procedures and events) is set on joining."""

    def __init__(self, store, realm, reactor, settings):
        self.store = store
        self.realm = realm
        self.reactor = reactor
        self.settings = settings
        self.rooms = RoomCache(store)
        self.sessions = NodeSessions()
        self.routes = None
        self.revocations = None   # the RevocationFeed, set by the service

    def now(self) -> int:
        """The reactor's time in milliseconds (what messages, rooms and members are stamped with)."""
        return int(self.reactor.seconds() * 1000)

    # -- who calls --------------------------------------------------------------------
    async def caller(self, details) -> Caller:
        caller = self.caller_here(details)
        if caller is not None:
            return caller
        # a caller without a session here (e.g. an AMQP service): its display name, if it has one
        user = details.caller_authid
        return Caller(details.caller, user, details.caller_authrole, await self.store.display_name(user) or user)

    def caller_here(self, details):
        """The caller, if its session is on this node (its nick is known without asking the store), else None."""
        known = self.sessions.session(details.caller)
        if known is None:
            return None
        return Caller(details.caller, details.caller_authid, details.caller_authrole, known[2])

    def address(self, details) -> str:
        """The caller's network address without its port (per-address limits), or its authid when it has
        none (an in-process or AMQP caller)."""
        return self.address_of(details.caller, details.caller_authid)

    def address_of(self, session_id, authid) -> str:
        info = self.realm.session_info(session_id) if session_id is not None else None
        return transport_address(info.transport if info is not None else None, authid)

    def guest_address(self, username: str):
        """A guest's client address, when one of its sessions is on this node (None otherwise, and for accounts):
        what a ban on a guest also holds."""
        if not username.startswith("guest_"):
            return None
        for session_id in self.sessions.session_ids(username):
            address = self.address_of(session_id, username)
            if address != username:
                return address
        return None

    async def counted(self, kind, keys, count, refusal, window=ABUSE_WINDOW):
        """Count one ``kind`` event for ``keys`` in the database (every node counts in one place), or refuse
        with rate_limited and ``retry_after`` when one key is at ``count`` within ``window`` seconds."""
        wait_ms = await self.store.take_rate(kind, keys, count, int(window * 1000), self.now())
        if wait_ms is not None:
            rate_limited(refusal, wait_ms / 1000)

    # -- telling rooms and users ------------------------------------------------------------
    def publish(self, room_id, kind, payload, audience):
        """Publish a room event; ``audience`` (a private room's members) limits who gets it.

        The authorization rule checks membership when someone subscribes; the
        eligibility list also keeps events from a subscription that outlived
        its membership (after ``chat.room.leave`` or a guest's departure).
        """
        self.routes.publish(f"chat.room.{room_id}.{kind}", [payload], eligible_authid=audience)

    async def publish_room(self, room, kind, payload):
        """Publish to a room, asking the store for a private room's current members."""
        audience = await self.store.member_names(room["id"]) if room["private"] else None
        self.publish(room["id"], kind, payload, audience)

    def notify(self, username, payload):
        """``chat.user.<username>.notify``, to that user only (so it never reaches a shared exchange)."""
        self.routes.publish(f"chat.user.{username}.notify", [payload], eligible_authid=[username])
