"""Helpers for tests of the HTTP API and webhooks: one real HTTP request, answered as JSON."""
import io
import json

from twisted.internet import defer, reactor
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from helpers import read_body


@defer.inlineCallbacks
def post(world, path, body=None, token=None, method="POST", raw=None):
    """(status, JSON answer, headers) of one request to the world's node; ``raw`` bytes instead of ``body``."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = Headers({b"content-type": [b"application/json"]})
    if token is not None:
        headers.addRawHeader(b"authorization", f"Bearer {token}".encode())
    producer = FileBodyProducer(io.BytesIO(data)) if data is not None else None
    response = yield Agent(reactor).request(method.encode(), (world.server.http_url + path).encode(), headers,
                                            producer)
    answer = yield read_body(response)
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = answer
    return response.code, parsed, response.headers


@defer.inlineCallbacks
def user_with_token(world, username):
    """(session, token) of a newly registered user."""
    session = yield world.user(username)
    made = yield session.call("chat.user.create_token", "test")
    return session, made["token"]
