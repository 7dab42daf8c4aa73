"""Helpers for chat tests: a running server with guests and registered users as real WAMP sessions."""
import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer

from helpers import Collector
from wampchat.admin import add_user_command
from wampchat.testing import connect, start_server

PASSWORD = "a long password"


@defer.inlineCallbacks
def error_of(d):
    """The error URI a call's Deferred fails with (fails the test if it succeeds)."""
    try:
        result = yield d
    except ApplicationError as e:
        return e.error
    raise AssertionError(f"expected an error, got {result!r}")


class ChatWorld:
    """One wampchat server and the sessions a test opened on it (all closed at the end)."""

    def __init__(self, tmp_path, db, args=()):
        self.tmp_path = tmp_path
        self.args = list(args)
        self.db = db
        self.server = None
        self.sessions = []

    @defer.inlineCallbacks
    def start(self):
        """Start (or restart) the server on the same database file."""
        self.server = yield start_server(self.args + ["--db", self.db], self.tmp_path)
        return self

    @defer.inlineCallbacks
    def restart(self):
        """Stop the server, dropping every session, and start a new one on the same file."""
        yield self.stop()
        yield self.start()

    @defer.inlineCallbacks
    def stop(self):
        for session in self.sessions:
            close(session)
        self.sessions = []
        if self.server is not None:
            yield self.server.stop()
            self.server = None

    @defer.inlineCallbacks
    def connect(self, **kwargs):
        session = yield connect(self.server.ws_url, **kwargs)
        self.sessions.append(session)
        return session

    def guest(self, nick):
        """A guest session showing ``nick``."""
        return self.connect(authmethods=["anonymous"], authextra={"nick": nick})

    @defer.inlineCallbacks
    def register(self, username, password=PASSWORD):
        """Register ``username`` through chat.user.register from a throw-away guest session."""
        guest = yield self.guest(f"reg {username}")
        user = yield guest.call("chat.user.register", username, password)
        yield leave(guest)
        return user

    @defer.inlineCallbacks
    def user(self, username, method="ticket", register=True, password=PASSWORD):
        """A session of registered ``username`` (registered first unless ``register`` is False)."""
        if register:
            yield self.register(username, password)
        session = yield self.connect(authmethods=[method], authid=username, secret=password)
        return session

    def add_admin(self, username, password=PASSWORD):
        """Add an admin the way an operator does: wampchat-admin on the database file."""
        error = add_user_command(self.db, username, "admin", None, password, 0)
        assert error is None, error

    @defer.inlineCallbacks
    def listen(self, session, topic, **options):
        """Subscribe a Collector to ``topic``; Deferred of the Collector."""
        from autobahn.wamp.types import SubscribeOptions

        collector = Collector()
        yield session.subscribe(collector, topic, options=SubscribeOptions(**options) if options else None)
        return collector


def close(session):
    """Drop a session's connection if it is still open (no GOODBYE)."""
    transport = session._transport
    if transport is not None and transport.isOpen():
        transport.close()


@defer.inlineCallbacks
def leave(session):
    """Leave with GOODBYE and wait until the connection is closed."""
    if session.is_attached():
        session.leave()
    yield session.closed


def payloads(collector):
    """args[0] of every event a Collector got."""
    return [args[0] for args, _ in collector.events]


@pytest.fixture
def world(tmp_path, db_url):
    """A started ChatWorld with default options, on each store."""
    w = pytest_twisted.blockon(ChatWorld(tmp_path, db_url).start())
    yield w
    pytest_twisted.blockon(w.stop())


@pytest.fixture
def make_world(tmp_path, db_url):
    """Start a ChatWorld with given twistd arguments (stopped at the end), on each store."""
    made = []

    def make(args=()):
        w = ChatWorld(tmp_path, db_url, args)
        made.append(w)
        return w.start()

    yield make
    for w in made:
        pytest_twisted.blockon(w.stop())
