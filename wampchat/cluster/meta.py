"""
The session meta API across nodes: ``wamp.session.count``, ``list``, ``get`` and the admins' ``kill``,
``kill_by_authid`` and ``kill_by_authrole`` answer for every node, on any node.

Each node keeps its sessions in memory only (nothing is written per login);
a call asks every other live node over the calls channel
(:meth:`~wampchat.amqp.calls.ClusterCalls.ask`) and combines their answers
with this node's. A node that does not answer within two seconds is left out
of the answer (it is dying; the registry drops it within the node timeout).
"""
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer
from twisted.logger import Logger

from wampchat.router.session_info import SessionInfo

NO_SUCH_SESSION = ApplicationError.NO_SUCH_SESSION


def _sum(local, others):
    return local + sum(others)


def _concat(local, others):
    return list(local) + [item for answer in others for item in answer]


COMBINE = {"wamp.session.count": _sum, "wamp.session.list": _concat, "wamp.session.kill_by_authid": _concat,
           "wamp.session.kill_by_authrole": _sum}
ONE_NODE = ("wamp.session.get", "wamp.session.kill")   # the session lives on one node: the first that has it


class ClusterMeta:
    """Replaces this node's session meta procedures with ones that answer for the whole cluster."""

    log = Logger()

    def __init__(self, realm, calls, registry) -> None:
        self._realm = realm
        self._calls = calls
        self._registry = registry
        self._local: dict = {}

    def install(self) -> None:
        dealer = self._realm.dealer
        for uri in (*COMBINE, *ONE_NODE):
            fn = dealer.builtin(uri)
            if fn is not None:
                self._local[uri] = fn
                dealer.add_builtin(uri, self._answering(uri))
        self._calls.answerers["meta"] = self._answer_here

    def uninstall(self) -> None:
        for uri, fn in self._local.items():
            self._realm.dealer.add_builtin(uri, fn)
        self._calls.answerers.pop("meta", None)

    def _answer_here(self, payload):
        """Another node asks for this node's part of a meta call."""
        uri, caller, args, kwargs = payload["uri"], payload["caller"], payload.get("args"), payload.get("kwargs")
        info = SessionInfo(caller[0], self._realm.name, caller[1], caller[2], "cluster")
        return self._local[uri](info, args or [], kwargs or {})

    def _answering(self, uri):
        local = self._local[uri]

        def cluster_wide(caller, args, kwargs):
            if uri in ONE_NODE:
                try:
                    return local(caller, args, kwargs)
                except ApplicationError as e:
                    if e.error != NO_SUCH_SESSION:
                        raise
                    return defer.ensureDeferred(self._first_elsewhere(uri, caller, args, kwargs, e))
            mine = local(caller, args, kwargs)
            return defer.ensureDeferred(self._gathered(uri, caller, args, kwargs, mine))
        return cluster_wide

    def _ask_all(self, uri, caller, args, kwargs):
        payload = {"uri": uri, "caller": [caller.id, caller.authid, caller.authrole], "args": args, "kwargs": kwargs}
        return [self._calls.ask(node, "meta", payload) for node in sorted(self._registry.nodes)]

    async def _gathered(self, uri, caller, args, kwargs, mine):
        answers = []
        for d in self._ask_all(uri, caller, args, kwargs):
            try:
                answers.append(await d)
            except (TimeoutError, ApplicationError) as e:
                self.log.warn("a node left out of {uri}: {e}", uri=uri, e=e)
        return COMBINE[uri](mine, answers)

    async def _first_elsewhere(self, uri, caller, args, kwargs, not_here):
        found, result = False, None
        for d in self._ask_all(uri, caller, args, kwargs):
            try:
                answer = await d
            except ApplicationError as e:
                if e.error != NO_SUCH_SESSION:
                    raise
                continue
            except TimeoutError:
                continue
            if not found:
                found, result = True, answer
        if not found:
            raise not_here
        return result
