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

This module only wires the parts: each API area is its own module
(:mod:`~wampchat.chat.accounts`, :mod:`~wampchat.chat.rooms`,
:mod:`~wampchat.chat.dms`, :mod:`~wampchat.chat.messages`,
:mod:`~wampchat.chat.reading`, :mod:`~wampchat.chat.presence`) over one
shared :class:`~wampchat.chat.context.ChatContext`, and who may do what is
:mod:`~wampchat.chat.authorization`.
"""
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.types import CloseDetails

from wampchat.chat.accounts import Accounts
from wampchat.chat.api_tokens import ApiTokens
from wampchat.chat.authorization import ChatAuthorizer
from wampchat.chat.context import ChatContext
from wampchat.chat.dms import DirectMessages
from wampchat.chat.files import Files
from wampchat.chat.guard import guarded
from wampchat.chat.messages import Messages
from wampchat.chat.moderation import Moderation
from wampchat.chat.pins import Pins
from wampchat.chat.presence import Presence
from wampchat.chat.reading import Reading
from wampchat.chat.reports import Reports
from wampchat.chat.revocation_feed import RevocationFeed
from wampchat.chat.rooms import Rooms
from wampchat.chat.sanctions import Sanctions
from wampchat.chat.threads import Threads
from wampchat.chat.webhooks import Webhooks
from wampchat.chat.server_bans import ServerBans

# How this in-process session ends when the node stops or it leaves itself (see ChatService.onLeave).
ORDERLY_ENDS = frozenset({"wamp.close.system_shutdown", "wamp.close.goodbye_and_out",
                          CloseDetails.REASON_TRANSPORT_LOST})


class ChatService(ApplicationSession):
    """Implements the chat API on top of a :class:`~wampchat.storage.chat.store.ChatStore`."""

    def __init__(self, config, store, realm, reactor, settings):
        super().__init__(config)
        self.context = ChatContext(store, realm, reactor, settings)
        self.authorizer = ChatAuthorizer(self.context)   # the runtime gives the router its rule and join hook
        self.rooms = Rooms(self.context)
        self.reading = Reading(self.context)
        self.messages = Messages(self.context, self.reading.typing)
        self.presence = Presence(self.context, self.reading.typing)
        self.revocations = self.context.revocations = RevocationFeed(self.context)
        self.files = Files(self.context)
        moderation = Moderation(self.context)
        self.webhooks = Webhooks(self.context, self.messages)
        self.areas = (Accounts(self.context), self.rooms, DirectMessages(self.context), self.messages,
                      self.reading, moderation, Sanctions(self.context, moderation, self.revocations),
                      ServerBans(self.context, self.revocations), Reports(self.context, moderation),
                      Pins(self.context), Threads(self.context), self.files, ApiTokens(self.context),
                      self.webhooks)
        self.ready = None

    @property
    def cluster(self):
        """The :class:`~wampchat.chat.cluster_presence.ClusterPresence` this node's arrivals are told to."""
        return self.presence.cluster

    @cluster.setter
    def cluster(self, cluster):
        self.presence.cluster = cluster

    def announce_presence(self, change):
        """What the cluster presence calls when a user came online or went offline in the cluster."""
        self.presence.announce(change)

    async def load(self):
        """Create the lobby on first start; read the cluster's file URL key."""
        await self.rooms.create_lobby()
        await self.files.start()

    def onConnect(self):
        self.join(self.config.realm)

    async def onJoin(self, details):
        # calls and events go straight to the router's dealer and broker, not as WAMP messages
        routes = self.context.routes = self.context.realm.service_routes(self, details.session)
        for area in self.areas:
            for uri, fn in area.procedures().items():
                await routes.register(uri, guarded(fn))
        routes.watch_sessions(self.presence.session_joined, self.presence.session_left)
        for info in self.context.realm.sessions():
            self.presence.session_joined(info.as_dict())
        if self.ready is not None and not self.ready.called:
            self.ready.callback(self)
        self.presence.serve()
        self.revocations.start()

    def onLeave(self, details):
        """Autobahn warns about any end but wamp.close.normal; for this in-process session the others are a
        node stopping (GOODBYE system_shutdown, and the in-memory transport closing in the same call) or
        its own leave answered (goodbye_and_out): not warnings. A router-side abort logs its own error."""
        self.presence.stop()
        self.revocations.stop()
        self.files.stop()
        self.reading.typing.stop_all()
        if details.reason in ORDERLY_ENDS:
            details = CloseDetails(CloseDetails.REASON_DEFAULT, details.message)
        return super().onLeave(details)
