"""Shared fixtures: a real wampchat server on 127.0.0.1:0 per test, and clients that join it."""
import pytest
import pytest_twisted
from twisted.internet import defer

from wampchat.testing import connect, start_server

SERIALIZER_NAMES = ["json", "msgpack", "cbor"]


@pytest.fixture
def server(tmp_path):
    """A running wampchat (the real makeService tree) with default settings."""
    running = pytest_twisted.blockon(start_server([], tmp_path))
    yield running
    pytest_twisted.blockon(running.stop())


@pytest.fixture
def make_server(tmp_path):
    """Start servers with given arguments; all are stopped at the end of the test."""
    started = []

    @defer.inlineCallbacks
    def make(args=()):
        running = yield start_server(list(args), tmp_path)
        started.append(running)
        return running

    yield make
    for running in started:
        pytest_twisted.blockon(running.stop())


@pytest.fixture
def router(make_server):
    """A wampchat server that also listens for RawSocket."""
    return pytest_twisted.blockon(make_server(["--rawsocket", "tcp:0:interface=127.0.0.1"]))


@pytest.fixture
def join(router, clients):
    """Join a session to ``router`` with a serializer, over WebSocket or RawSocket."""

    def join(serializer="json", rawsocket=False, **kwargs):
        if rawsocket:
            kwargs["rawsocket_port"] = router.rawsocket_port
        return clients(router.ws_url, serializer=serializer, **kwargs)

    return join


@pytest.fixture
def clients():
    """Join client sessions; every one still open is closed at the end of the test."""
    opened = []

    @defer.inlineCallbacks
    def join(url, **kwargs):
        session = yield connect(url, **kwargs)
        opened.append(session)
        return session

    yield join
    for session in opened:
        if session.is_attached():
            session.leave()
        if session._transport is not None and session._transport.isOpen():
            session._transport.close()
