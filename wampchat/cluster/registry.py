"""
The cluster's registrations: every node's dealer knows which other nodes have callees for which procedure.

The dealer asks :meth:`ClusterRegistry.claim` before a procedure's first
callee on this node is told REGISTERED: the claim is a row in
``cluster_registrations``, refused when a ``single`` registration of the URI
exists on another live node (or a shared one with another policy), so a
``single`` registration is unique in the cluster. When the node's last
callee of it leaves, the row goes (:meth:`release`).

Every :data:`POLL_INTERVAL` seconds the node reads the other live nodes'
rows and makes its dealer's view match: each other node is one
:class:`~wampchat.amqp.calls.RemoteCallee` among a registration's callees. A
node that leaves the cluster (stopped, or cleared as dead by the presence
heartbeat within the node timeout) takes its registrations along, and the
calls in flight to it end with ``wamp.error.canceled``.
"""
from typing import Optional

from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task
from twisted.logger import Logger

from wampchat.storage import StoreError
from wampchat.storage import registrations as rows

POLL_INTERVAL = 1.0


class ClusterRegistry:
    """This node's part in the cluster's registrations (the dealer's ``cluster``)."""

    log = Logger()

    def __init__(self, dealer, database, calls, node: str, clock) -> None:
        self._dealer = dealer
        self._db = database
        self._calls = calls
        self.node = node
        self._clock = clock
        self._known: set = set()      # (node, uri, match, invoke) the dealer holds
        self._nodes: set = set()
        self._loop: Optional[task.LoopingCall] = None
        self.on_node_gone: list = []   # fn(node) for each node that left the cluster (its testaments)

    async def start(self) -> None:
        """Forget what an earlier run of this node claimed, take the dealer's claims, follow the others."""
        await self._db.run(rows.release_all, self.node)
        self._dealer.cluster = self
        for reg in self._dealer.client_registrations():   # made before the link to the cluster was up
            self.claim(reg).addErrback(lambda f, uri=reg.uri: self.log.warn(
                "{uri}, registered here before this node joined the cluster, is held elsewhere too: {e}",
                uri=uri, e=f.value))
        loop = self._loop = task.LoopingCall(self.refresh)
        loop.clock = self._clock
        loop.start(POLL_INTERVAL, now=True).addErrback(lambda f: self.log.failure("registry stopped", f))

    def stop_following(self) -> None:
        """Stop reading the others' registrations (the node is stopping)."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._dealer.cluster = None

    async def stop(self) -> None:
        self.stop_following()
        for node in list(self._nodes):
            self._calls.node_gone(node)
        try:
            await self._db.run(rows.release_all, self.node)
        except StoreError as e:
            self.log.warn("this node's registrations were not removed (the others drop them as it stops "
                          "beating): {e}", e=e)

    @property
    def nodes(self) -> set:
        """The other live nodes, as of the last refresh."""
        return set(self._nodes)

    # -- what the dealer asks ------------------------------------------------------------------------
    def claim(self, reg):
        """A Deferred: this node may take callees for ``reg`` (else ApplicationError, as REGISTER's answer)."""
        now = int(self._clock.seconds() * 1000)
        d = self._db.run(rows.claim, self.node, reg.uri, reg.match, reg.invoke, now)
        return d.addErrback(self._refused)

    @staticmethod
    def _refused(failure):
        if failure.check(rows.Refused):
            error = ApplicationError.PROCEDURE_ALREADY_EXISTS if failure.value.reason == "exists" else \
                ApplicationError.PROCEDURE_EXISTS_INVOCATION_POLICY_CONFLICT
            raise ApplicationError(error, str(failure.value))
        failure.trap(StoreError)
        raise ApplicationError("wampchat.error.unavailable", "the cluster's registry is unavailable; try again")

    def release(self, reg) -> None:
        self._db.run(rows.release, self.node, reg.uri, reg.match).addErrback(
            lambda f: self.log.warn("registration {uri} not released: {e}", uri=reg.uri, e=f.value))

    # -- following the other nodes ------------------------------------------------------------------
    @defer.inlineCallbacks
    def refresh(self):
        """Make the dealer's view of the other nodes' callees match the database."""
        try:
            nodes, found = yield self._db.run(rows.others, self.node)
        except StoreError as e:
            self.log.warn("the cluster's registrations were not read: {e}", e=e)
            return
        found = set(found)
        for node, uri, match, invoke in sorted(self._known - found):
            self._dealer.remove_remote(self._calls.callee(node), uri, match)
        for node, uri, match, invoke in sorted(found - self._known):
            if not self._dealer.add_remote(self._calls.callee(node), uri, match, invoke):
                self.log.warn("{uri} on node {node} conflicts with this node's registration", uri=uri, node=node)
        self._known = found
        for node in self._nodes - set(nodes):
            self._calls.node_gone(node)
            for callback in self.on_node_gone:
                callback(node)
        self._nodes = set(nodes)
