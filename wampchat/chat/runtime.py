"""The chat service's place in the service tree: open the store, join the realm, stop cleanly."""
from autobahn.wamp.types import ComponentConfig
from twisted.application import service
from twisted.internet import defer

from wampchat.chat.service import ChatService
from wampchat.chat.store import ChatStore
from wampchat.router.authorize import TRUSTED
from wampchat.router.local import attach_local


class ChatRuntime(service.Service):
    """Starts the chat service inside the router; ``ready`` fires once it serves calls."""

    name = "chat"

    def __init__(self, router, realm_name, db_path, settings, reactor):
        self._router = router
        self._realm_name = realm_name
        self.db_path = db_path
        self.settings = settings
        self._reactor = reactor
        self.store = None
        self.session = None
        self.ready = None

    def startService(self):
        super().startService()
        self.ready = defer.ensureDeferred(self._start())

    async def _start(self):
        realm = self._router.realm(self._realm_name)
        self.store = ChatStore(self.db_path, self._reactor)
        session = ChatService(ComponentConfig(realm=self._realm_name), self.store, realm, self._reactor,
                              self.settings)
        await session.load()
        realm.authorizer.add_rule(session.authorize)
        realm.add_join_hook(session.check_join)
        self._router.credentials.add_provider(self.store)
        session.ready = defer.Deferred()
        attach_local(realm, session, "chat", TRUSTED)
        self.session = session
        await session.ready
        return self

    def stopService(self):
        super().stopService()
        if self.session is not None and self.session.is_attached():
            self.session.leave()
        if self.store is not None:
            self.store.close()
