"""
What a user would build instead of wampchat: the same chat service as an ordinary Autobahn component on Crossbar.io.

``python -m benchmarks.crossbar_chat --url ws://.../ws --db PATH --metrics-port N --ready FILE``
runs wampchat's own :class:`~wampchat.chat.service.ChatService` (same store,
same group commit, same code) in a process of its own, joined to a router
over a WebSocket, as someone using Crossbar would deploy a backend. The
send-path benchmark then puts the same load on Crossbar + this component
as on one wampchat process, so the comparison is the embedding, not the chat
code.

What the embedding gives and this does not: no router-side authorization
rule (Crossbar's static role allows everything), no join hook (nicks are not
checked), and no sessions already joined when it starts (it learns them from
``wamp.session.on_join``). Each of these costs wampchat something, so the
comparison does not flatter wampchat. The component serves its /metrics
(the group-commit counters) on ``--metrics-port``.
"""
import argparse
import sys


class ComponentRealm:
    """What ChatService asks of the realm it runs in, for a service outside any wampchat router."""

    def __init__(self):
        from wampchat.router.metrics import Metrics

        self.metrics = Metrics()

    def sessions(self):
        """No sessions are known when the component joins; it hears of later ones from the meta API."""
        return []

    def service_routes(self, service, session_id):
        """Outside a wampchat router, procedures and events go over the component's Autobahn session."""
        return SessionRoutes(service)


class SessionRoutes:
    """What ChatService routes through, as REGISTER, PUBLISH and SUBSCRIBE over a WAMP session."""

    def __init__(self, session):
        self._session = session

    def register(self, uri, fn):
        from autobahn.wamp.types import RegisterOptions

        return self._session.register(fn, uri, options=RegisterOptions(details_arg="details"))

    def watch_sessions(self, joined, left):
        """Sessions joining and leaving, from Crossbar's meta events (wampchat calls the service directly)."""
        self._session.subscribe(joined, "wamp.session.on_join")
        self._session.subscribe(left, "wamp.session.on_leave")

    def publish(self, topic, args=None, kwargs=None, eligible_authid=None):
        from autobahn.wamp.types import PublishOptions

        options = PublishOptions(eligible_authid=eligible_authid) if eligible_authid is not None else None
        self._session.publish(topic, *(args or ()), options=options, **(kwargs or {}))


def serve_metrics(reactor, metrics, port):
    """GET /metrics on 127.0.0.1:port, the component's own registry."""
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    class MetricsPage(Resource):
        isLeaf = True

        def render_GET(self, request):
            body, content_type = metrics.exposition(None)
            request.setHeader(b"content-type", content_type.encode("ascii"))
            return body

    root = Resource()
    root.putChild(b"metrics", MetricsPage())
    return reactor.listenTCP(port, Site(root), interface="127.0.0.1")


async def start(reactor, args):
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import defer, endpoints

    from wampchat.chat.cluster_presence import ClusterPresence
    from wampchat.chat.service import ChatService
    from wampchat.chat.settings import ChatSettings
    from wampchat.storage import Database, prepare_database
    from wampchat.storage.chat.store import ChatStore

    database = Database(prepare_database(args.db), reactor)
    realm = ComponentRealm()
    store = ChatStore(database)
    session = ChatService(ComponentConfig(realm=args.realm), store, realm, reactor,
                          ChatSettings(send_rate=args.send_rate, node_id="cbchat"))
    await session.load()
    session.cluster = ClusterPresence(database, "cbchat", reactor, session.announce_presence, 5.0, 15.0)
    await session.cluster.start()
    session.ready = defer.Deferred()
    serve_metrics(reactor, realm.metrics, args.metrics_port)
    factory = WampWebSocketClientFactory(lambda: session, url=args.url)
    host, port = args.url.split("//", 1)[1].split("/", 1)[0].split(":")
    await endpoints.TCP4ClientEndpoint(reactor, host, int(port), timeout=10).connect(factory)
    await session.ready
    with open(args.ready, "w") as f:
        f.write("ready\n")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.crossbar_chat", description=__doc__.strip().splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--realm", default="wampchat")
    p.add_argument("--db", required=True)
    p.add_argument("--metrics-port", type=int, required=True)
    p.add_argument("--send-rate", type=int, default=20)
    p.add_argument("--ready", required=True, help="file written once the service is joined and registered")
    p.add_argument("--lifetime", type=float, default=3600, help="stop after this many seconds in any case")
    args = p.parse_args(argv)

    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import defer, reactor
    from twisted.logger import (FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner,
                                textFileLogObserver)

    # warnings and errors only: wampchat logs nothing at info level on the hot path, and neither should this
    globalLogBeginner.beginLoggingTo([FilteringLogObserver(textFileLogObserver(sys.stderr),
                                                           [LogLevelFilterPredicate(LogLevel.warn)])])

    def failed(failure):
        failure.printTraceback(file=sys.stderr)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(start(reactor, args)).addErrback(failed))
    reactor.callLater(args.lifetime, reactor.stop)
    reactor.run()


if __name__ == "__main__":
    main()
