"""
The one Site a node serves on every ``--listen``: the page at /, WAMP-over-WebSocket at /ws, WAMP over HTTP
long-poll at /lp, /healthz and /metrics, /files, the HTTP API at /api and incoming webhooks at /hooks, behind
the process's ConnectionGuard (shared with the RawSocket listeners).
"""
import os

from twisted.logger import Logger
from twisted.web.resource import Resource

from wampchat.router.serializers import wamp_serializers
from wampchat.router.transports.connection_guard import ConnectionGuard
from wampchat.router.transports.longpoll import LongPollTransports
from wampchat.router.transports.websocket import RouterWebSocketFactory
from wampchat.web.connections import GuardedSite
from wampchat.router.http_bridge import HttpBridge
from wampchat.web.api import ApiResource
from wampchat.web.files import FilesResource
from wampchat.web.hooks import HooksResource
from wampchat.web.longpoll import LongPollResource
from wampchat.web.monitoring import HealthResource, MetricsResource
from wampchat.web.page_files import PageResource
from wampchat.web.websocket import RouterWebSocketResource, take_upgrade

log = Logger()


DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024


def make_site(router, web_dir, max_message_size, outbound_buffer, guard=None, max_upload=DEFAULT_MAX_UPLOAD,
              trusted_proxies=None):
    """The one Site that serves the page, the WAMP endpoint, health, metrics and /files.

    ``site.file_gate`` is the /files resource and ``site.hook_gate`` the
    /hooks one: the chat runtime gives them its file and webhook services
    while it serves. /api is the HTTP API; ``site.longpoll`` holds the open
    long-poll transports (ended when the node stops). No request body may exceed ``max_upload``.

    ``guard`` is the process's ConnectionGuard (shared with the RawSocket
    listeners); by default one with the default limits on the router's reactor.
    ``trusted_proxies``: the peers whose X-Forwarded-For names a WebSocket's client.
    """
    guard = guard if guard is not None else ConnectionGuard(router.reactor, router.metrics)
    if web_dir and os.path.isdir(web_dir):
        root = PageResource(web_dir)
    else:
        log.warn("no page to serve: {web_dir} is not a directory, so / answers 404 (see --web)", web_dir=web_dir)
        root = Resource()
    ws_factory = RouterWebSocketFactory(router, wamp_serializers(), max_message_size, outbound_buffer, guard=guard,
                                        trusted_proxies=trusted_proxies)
    root.putChild(b"ws", RouterWebSocketResource(ws_factory))
    longpoll = LongPollTransports(router, guard, max_message_size, outbound_buffer)
    root.putChild(b"lp", LongPollResource(longpoll, trusted_proxies))
    root.putChild(b"healthz", HealthResource(router))
    root.putChild(b"metrics", MetricsResource(router))
    files = FilesResource(max_upload)
    root.putChild(b"files", files)
    root.putChild(b"api", ApiResource(HttpBridge(router, router.config.realm), router.reactor))
    hooks = HooksResource()
    root.putChild(b"hooks", hooks)
    site = GuardedSite(root, guard, reactor=router.reactor, max_body=max_upload)
    site.upgrade = lambda channel, data: take_upgrade(channel, ws_factory, data)
    site.file_gate = files
    site.hook_gate = hooks
    site.longpoll = longpoll
    site.displayTracebacks = False
    return site
