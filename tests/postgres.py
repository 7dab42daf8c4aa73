"""
A private PostgreSQL server for the test session (DESIGN.md: real components).

The server is :class:`wampchat.testing_servers.PostgresServer` (initdb and
pg_ctl as the ``postgres`` user, a free 127.0.0.1 port, its socket in a temp
dir; the benchmarks start the same one, with fsync on); this module is its
session fixture. Each test gets a schema of its own in one database
(``new_database()``), which is much faster than a database per test and
keeps tests apart just as well. ``stop()``/``start()`` in between let a test
take the server away and bring it back.
"""
import tempfile

import pytest

from wampchat.testing_servers import PG_BIN as BIN  # noqa: F401 (used by other test modules)
from wampchat.testing_servers import PG_DATABASE as DATABASE  # noqa: F401
from wampchat.testing_servers import PG_PASSWORD as PASSWORD  # noqa: F401
from wampchat.testing_servers import PG_ROLE as ROLE  # noqa: F401
from wampchat.testing_servers import PostgresServer, free_port  # noqa: F401
from wampchat.testing_servers import postgres_available as available

_SERVER = []  # the one server of this test session


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server for the session, with a ``wampchat`` role and database."""
    if not available():
        pytest.skip("PostgreSQL 15 server binaries are not installed: `make test` installs them "
                    "(Debian package postgresql)")
    if not _SERVER:
        # not under pytest's temp dir: its parents are private to root, and the server runs as postgres
        server = PostgresServer(tempfile.mkdtemp(prefix="wampchat-pg-"))
        server.start()
        _SERVER.append(server)
        server.set_up()
    yield _SERVER[0]
    if _SERVER:
        server = _SERVER.pop()
        server.stop()
        server.remove()
