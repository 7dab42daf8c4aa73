"""The node's service for one router across nodes: the registry starts once the chat runtime (the shared
database) and the AMQP bridge (the calls) are up, and stops before either."""
from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.cluster.meta import ClusterMeta
from wampchat.cluster.outliving import ClusterRetained, ClusterTestaments
from wampchat.cluster.registry import ClusterRegistry


class ClusterService(service.Service):
    """Starts and stops this node's :class:`~wampchat.cluster.registry.ClusterRegistry`."""

    name = "cluster"  # type: ignore[assignment]  # Twisted's Service says name = None
    log = Logger()

    def __init__(self, realm, runtime, bridge, node: str, reactor) -> None:
        self._realm = realm
        self._runtime = runtime
        self._bridge = bridge
        self._node = node
        self._reactor = reactor
        self.registry = None
        self.meta = None
        self.testaments = None
        self.started = None   # fires once the registry follows the cluster (not part of the node's readiness:
        # a node serves while its broker is away, and joins the router across nodes when the link comes up)

    def startService(self):
        super().startService()
        self.started = defer.ensureDeferred(self._start())
        self.started.addErrback(lambda f: self.log.failure("one router across nodes did not start", f))

    async def _start(self):
        await self._runtime.ready
        await self._bridge.when_connected()
        if not self.running:
            return None
        self.registry = ClusterRegistry(self._realm.dealer, self._runtime.store.database, self._bridge.calls,
                                        self._node, self._reactor)
        database = self._runtime.store.database
        self.testaments = ClusterTestaments(self._realm, database, self._node)
        self._realm.testaments.store = self.testaments
        self._realm.broker.retained.store = ClusterRetained(database, self._reactor)
        self.registry.on_node_gone.append(self.testaments.node_gone)
        await self.registry.start()
        self.meta = ClusterMeta(self._realm, self._bridge.calls, self.registry)
        self.meta.install()
        return self

    def leave_cluster(self):
        """Called by the node before any service stops (the database and the link are still up): stop following
        the others, clear this node's registrations and testaments from the shared database."""
        if self.meta is not None:
            self.meta.uninstall()
            self.meta = None
        self._realm.testaments.store = None
        self._realm.broker.retained.store = None
        if self.registry is None:
            return defer.succeed(None)
        registry, self.registry = self.registry, None
        return defer.ensureDeferred(self._leave(registry))

    async def _leave(self, registry):
        try:
            await self.testaments.stopping()
        except Exception as e:
            self.log.warn("this node's testaments were not cleared (the survivors may publish them too): {e}", e=e)
        await registry.stop()

    def stopService(self):
        """Only stops following the others; what touches the database was done by :meth:`leave_cluster`
        (the chat runtime closes the database as the services stop)."""
        super().stopService()
        if self.registry is not None:
            self.registry.stop_following()
