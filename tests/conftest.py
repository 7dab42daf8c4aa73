"""Shared fixtures: a real wampchat server on 127.0.0.1:0 per test, and clients that join it.

Every test that starts a server runs twice: on a SQLite file and on the
private PostgreSQL server (``WAMPCHAT_TEST_DB=sqlite`` or ``=postgres`` runs
one of them, e.g. while developing). A module that sets
``STORE_INDEPENDENT = True`` tests the router or a transport, where the chat
store plays no part: it runs on the first store only, unless
``WAMPCHAT_TEST_DB`` is set (``WAMPCHAT_TEST_DB=sqlite,postgres`` runs it on
both).
"""
import os

from autobahn.websocket.protocol import WebSocketProtocol
import pytest
import pytest_twisted
from twisted.internet import defer

from postgres import postgres  # noqa: F401 (fixture)
from wampchat.testing import connect, start_server

SERIALIZER_NAMES = ["json", "msgpack", "cbor"]
STORES = [name for name in os.environ.get("WAMPCHAT_TEST_DB", "sqlite,postgres").split(",") if name]


def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames:
        stores = STORES
        if getattr(metafunc.module, "STORE_INDEPENDENT", False) and "WAMPCHAT_TEST_DB" not in os.environ:
            stores = STORES[:1]
        metafunc.parametrize("db_url", stores, indirect=True)


@pytest.fixture
def db_url(request, tmp_path):
    """The ``--db`` of this test's server: a fresh SQLite file, or a fresh schema on the private PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "wampchat.sqlite")
    return request.getfixturevalue("postgres").new_database()


def with_db(args, db_url):
    """``args`` with ``--db db_url`` unless they name a database themselves."""
    args = list(args)
    return args if "--db" in args else args + ["--db", db_url]


@pytest.fixture
def server(tmp_path, db_url):
    """A running wampchat (the real makeService tree) with default settings."""
    running = pytest_twisted.blockon(start_server(with_db([], db_url), tmp_path))
    yield running
    pytest_twisted.blockon(running.stop())


@pytest.fixture
def make_server(tmp_path, db_url):
    """Start servers with given arguments; all are stopped at the end of the test."""
    started = []

    @defer.inlineCallbacks
    def make(args=()):
        running = yield start_server(with_db(args, db_url), tmp_path)
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
        if not _can_send(session._transport):
            continue  # closed, or closing already (the test closed it and did not wait)
        if session.is_attached():
            session.leave()
        if _can_send(session._transport):
            session._transport.close()


def _can_send(transport):
    """Whether a client transport is open and not in its closing handshake (RawSocket has none)."""
    return (transport is not None and transport.isOpen()
            and getattr(transport, "state", WebSocketProtocol.STATE_OPEN) == WebSocketProtocol.STATE_OPEN)
