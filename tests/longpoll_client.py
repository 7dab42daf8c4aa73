"""A raw WAMP-over-long-poll client for tests: each step one real HTTP POST to /lp on 127.0.0.1."""
import io
import json

from twisted.internet import defer, reactor
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from helpers import read_body

HELLO_AS_GUEST = [1, "wampchat", {"roles": {"caller": {}, "subscriber": {}, "publisher": {}},
                                  "authmethods": ["anonymous"], "authextra": {"nick": "Lou"}}]


@defer.inlineCallbacks
def post(base_url, path, body=b"", headers=None, bind=None):
    """(status, body) of ``POST <base_url><path>``; ``bind`` is the source address (host, port) to send from."""
    agent = Agent(reactor, bindAddress=bind)
    response = yield agent.request(b"POST", (base_url + path).encode(), Headers(headers or {}),
                                   FileBodyProducer(io.BytesIO(body)))
    data = yield read_body(response)
    return response.code, data


class LongPollClient:
    """One long-poll transport, driven step by step."""

    def __init__(self, base_url, bind=None):
        self.base_url = base_url   # http://127.0.0.1:<port>
        self.bind = bind
        self.transport = None

    @defer.inlineCallbacks
    def open(self, protocols=("wamp.2.json",)):
        """Open a transport; the answer's JSON."""
        code, body = yield post(self.base_url, "/lp/open", json.dumps({"protocols": list(protocols)}).encode(),
                                bind=self.bind)
        assert code == 200, (code, body)
        answer = json.loads(body)
        self.transport = answer["transport"]
        return answer

    def request(self, action, body=b"", bind=None):
        """(status, body) of ``POST /lp/<transport>/<action>``."""
        return post(self.base_url, f"/lp/{self.transport}/{action}", body, bind=bind or self.bind)

    @defer.inlineCallbacks
    def send(self, msg):
        code, body = yield self.request("send", json.dumps(msg).encode())
        assert code == 204, (code, body)

    @defer.inlineCallbacks
    def receive(self):
        """The next message the router sent (waiting out empty polls); fails on any status but 200 and 204."""
        while True:
            code, body = yield self.request("receive")
            assert code in (200, 204), (code, body)
            if code == 200:
                return json.loads(body)

    @defer.inlineCallbacks
    def join_as_guest(self):
        """Open, HELLO as a guest; the WELCOME."""
        yield self.open()
        yield self.send(HELLO_AS_GUEST)
        welcome = yield self.receive()
        assert welcome[0] == 2, welcome
        return welcome
