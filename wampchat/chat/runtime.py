"""The chat service's place in the service tree: open the store, join the realm and the cluster, stop cleanly."""
from autobahn.wamp.types import ComponentConfig
from twisted.application import service
from twisted.internet import defer

from wampchat.chat.cluster_presence import ClusterPresence
from wampchat.chat.retention import RetentionJob
from wampchat.chat.service import ChatService
from wampchat.cluster.outliving import DatabaseHistory
from wampchat.router.authorize import TRUSTED
from wampchat.router.credentials import CredentialsUnavailable
from wampchat.router.inprocess import attach_local
from wampchat.router.tokens import token_hash, token_id
from wampchat.storage import Database, StoreUnavailable
from wampchat.storage.chat.store import ChatStore


class ChatRuntime(service.Service):
    """Starts the chat service inside the router; ``ready`` fires once it serves calls.

    ``engine`` is a checked and migrated database engine
    (:func:`wampchat.storage.prepare_database`); the database threads start
    and stop with this service.
    """

    name = "chat"  # type: ignore[assignment]  # Twisted's Service says name = None

    def __init__(self, router, realm_name, engine, settings, reactor, heartbeat=5.0, node_timeout=15.0,
                 file_gate=None, hook_gate=None):
        self._router = router
        self._realm_name = realm_name
        self.engine = engine
        self.settings = settings
        self._reactor = reactor
        self._heartbeat = heartbeat
        self._node_timeout = node_timeout
        self.store = None
        self.session = None
        self.cluster = None
        self.retention = None
        self.file_gate = file_gate   # the web port's /files resource: given the Files area while serving
        self.hook_gate = hook_gate   # the web port's /hooks resource: given the Webhooks area while serving
        self.ready = None
        self.state = "stopped"

    def startService(self):
        super().startService()
        self.state = "starting"
        self._router.health["chat"] = lambda: {"state": self.state}
        self.ready = defer.ensureDeferred(self._start())

    async def _start(self):
        realm = self._router.realm(self._realm_name)
        database = Database(self.engine, self._reactor)
        self.store = ChatStore(database)
        session = ChatService(ComponentConfig(realm=self._realm_name), self.store, realm, self._reactor,
                              self.settings)
        await session.load()
        self.cluster = ClusterPresence(database, self.settings.node_id, self._reactor, session.announce_presence,
                                       self._heartbeat, self._node_timeout)
        session.cluster = self.cluster
        await self.cluster.start()
        self.retention = RetentionJob(self.store, self.settings.retention_days, self.settings.node_id, self._reactor)
        self.retention.start()
        self._router.health["database"] = database.health
        self._router.health["nodes"] = self.cluster.health
        realm.authorizer.add_rule(session.authorizer.authorize)
        if realm.history.active:   # --event-history: kept in the database, for every node
            realm.history.store = DatabaseHistory(database)
        realm.add_join_hook(session.authorizer.check_join)
        self._router.credentials.add_provider(StoreCredentials(self.store, self._reactor))
        session.ready = defer.Deferred()
        attach_local(realm, session, "chat", TRUSTED)
        self.session = session
        await session.ready
        if self.file_gate is not None:
            self.file_gate.service = session.files
        if self.hook_gate is not None:
            self.hook_gate.service = session.webhooks
        self.state = "ready"
        return self

    def leave_cluster(self):
        """Take this node's users offline in the cluster (announced while the service can still publish)."""
        if self.cluster is None:
            return defer.succeed(None)
        return defer.ensureDeferred(self.cluster.stop())

    def stopService(self):
        super().stopService()
        return defer.ensureDeferred(self._stop())

    async def _stop(self):
        self.state = "stopping"
        if self.file_gate is not None:
            self.file_gate.service = None
        if self.hook_gate is not None:
            self.hook_gate.service = None
        if self.session is not None and self.session.is_attached():
            self.session.leave()
        if self.retention is not None:
            await self.retention.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        if self.store is not None:
            self.store.close()


class StoreCredentials:
    """The router's credentials provider over the chat store: a database that is away makes the login
    ``unavailable`` (CredentialsUnavailable), not an internal error."""

    def __init__(self, store, reactor):
        self._store = store
        self._reactor = reactor

    def get_credentials(self, authid):
        return self._store.get_credentials(authid).addErrback(_unavailable)

    def token_user(self, token):
        """The live owner of an API token (its last use noted now), or None."""
        found = token_id(token)
        if found is None:
            return defer.succeed(None)
        now = int(self._reactor.seconds() * 1000)
        return self._store.use_token(found, token_hash(token), now).addErrback(_unavailable)

    def key_identity(self, pubkey):
        return self._store.key_identity(pubkey).addErrback(_unavailable)


def _unavailable(failure):
    failure.trap(StoreUnavailable)
    raise CredentialsUnavailable(str(failure.value))
