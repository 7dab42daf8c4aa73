"""
A private PostgreSQL server for the test session (DESIGN.md: real components).

``initdb`` makes a cluster in a temp dir and ``pg_ctl`` starts it on a free
127.0.0.1 port, both as the ``postgres`` user (they refuse to run as root),
with its socket in the temp dir, so it never touches a system server. Local
socket logins are trusted (for set-up); TCP logins need a password, so a
wrong password is really refused. Each test gets a schema of its own in one
database (``new_database()``), which is much faster than a database per test
and keeps tests apart just as well. ``stop()``/``start()`` in between let a
test take the server away and bring it back.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

BIN = "/usr/lib/postgresql/15/bin"
ROLE, PASSWORD, DATABASE = "wampchat", "wampchat-secret", "wampchat"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    """True when the PostgreSQL server binaries and their ``postgres`` user are here."""
    if not os.path.exists(os.path.join(BIN, "initdb")):
        return False
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


class PostgresServer:
    """One private server: where it lives, how to reach it, how to stop and start it."""

    def __init__(self, base, fsync=False):
        self.base = str(base)
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self.fsync = fsync
        os.chmod(self.base, 0o777)  # the postgres user writes here
        self._as_postgres([os.path.join(BIN, "initdb"), "-D", self.data, "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])

    def _as_postgres(self, argv, timeout=120):
        result = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                                timeout=timeout, cwd=self.base)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self):
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=100")
        self._as_postgres([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-o", options, "-w", "-t", "60",
                           "-l", os.path.join(self.base, "server.log"), "start"])

    def stop(self):
        self._as_postgres([os.path.join(BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])

    def psql(self, sql, database="postgres"):
        """Run SQL as the superuser over the private socket."""
        return self._as_postgres(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-h", self.base, "-p", str(self.port),
                                  "-d", database, "-c", sql])

    def set_up(self):
        """The role and database the tests use."""
        self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def url(self, schema=None, password=PASSWORD, database=DATABASE, port=None):
        """The ``--db`` URL, optionally confined to ``schema``."""
        url = f"postgresql://{ROLE}:{password}@127.0.0.1:{port or self.port}/{database}"
        if schema:
            url += f"?options=-csearch_path%3D{schema}"
        return url

    def new_database(self):
        """A fresh, empty schema and the URL that uses it (a database of its own, for one test)."""
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return self.url(schema)

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


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
