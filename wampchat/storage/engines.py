"""
The two database engines, and only what differs between them.

Every query in wampchat is written once, with ``?`` placeholders and SQL that
SQLite 3.35+ and PostgreSQL 12+ both understand (``ON CONFLICT``,
``RETURNING``). An engine connects, converts placeholders, classifies errors
and supplies the few statements that differ and name no table: locks, the
database's clock, the list of tables. What differs for one table (the
message counter, full-text search) is written in that table's module under
:mod:`wampchat.storage.chat`, which asks ``tx.engine.name``.
"""
import functools
import os
import re
import sqlite3
import threading
from urllib.parse import urlsplit

from wampchat.storage.errors import StartupError

POSTGRES_SCHEMES = ("postgresql", "postgres")


def engine_for(db):
    """The engine for a ``--db`` value: a libpq URL means PostgreSQL, anything else is a SQLite path."""
    if not isinstance(db, str) or not db.strip():
        raise StartupError("--db must be a SQLite file path or a postgresql:// URL")
    scheme = db.split(":", 1)[0].lower() if "://" in db else ""
    if scheme in POSTGRES_SCHEMES:
        return PostgresEngine(db)
    if scheme:
        raise StartupError(f"--db {scheme}://...: only postgresql:// URLs and SQLite file paths are supported")
    return SqliteEngine(db)


def _first_line(error):
    """Driver errors span lines (libpq adds hints); a start-up message is one line."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


class SqliteEngine:
    """An embedded SQLite file: one node, one writing connection, WAL, ``synchronous=FULL``.

    FULL makes every commit fsync the write-ahead log, so a message whose send
    returned survives a power cut, not only a crash of the process; group
    commit (:mod:`wampchat.storage.chat.sends`) keeps that affordable. Temporary data
    (a multi-row statement's journal, a sort) stays in memory: on disk each
    was a file created and unlinked under /var/tmp, seven system calls.
    """

    name = "sqlite"
    shared = False        # several nodes cannot share one file
    pool_size = 1         # one connection: writes are serialized in the order they were asked for
    for_update = ""       # a write transaction (BEGIN IMMEDIATE) already excludes other writers
    pipelines = False     # in-process: nothing to gain from sending statements ahead
    integrity_errors = (sqlite3.IntegrityError,)
    unavailable_errors = (sqlite3.OperationalError,)
    database_errors = (sqlite3.Error,)

    def __init__(self, path):
        self.path = path

    def describe(self):
        return f"SQLite file {self.path}"

    def connect(self):
        """A prepared connection, or StartupError saying why there is none."""
        try:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA temp_store=MEMORY")
        except (sqlite3.Error, OSError) as e:
            raise StartupError(f"cannot open {self.describe()}: {_first_line(e)}") from e
        return conn

    def begin(self, conn):
        conn.execute("BEGIN IMMEDIATE")

    def convert(self, sql):
        return sql

    def table_names(self, tx):
        rows = tx.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        return {r["name"] for r in rows}

    def lock_migrations(self, tx):
        """BEGIN IMMEDIATE already holds the only write lock."""

    def lock_key(self, tx, space, key):
        """Writers are serialized: nothing to lock."""

    def now_ms_sql(self):
        return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"


class PostgresEngine:
    """A PostgreSQL database shared by every node of a cluster (psycopg 3, a pool of threads)."""

    name = "postgresql"
    shared = True
    pool_size = 8
    for_update = " FOR UPDATE"
    pipelines = True      # psycopg's pipeline mode: several statements per network round trip

    def __init__(self, url):
        import psycopg

        self.url = url
        self._psycopg = psycopg
        self.integrity_errors = (psycopg.IntegrityError,)
        self.unavailable_errors = (psycopg.OperationalError, psycopg.InterfaceError)
        self.database_errors = (psycopg.Error,)

    def describe(self):
        """Where the database is, never the password."""
        try:
            parts = urlsplit(self.url)
            where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"
        except ValueError:  # a malformed URL; connect() says what is wrong with it
            where = "(malformed URL)"
        return f"PostgreSQL at {where}"

    def connect(self):
        from psycopg.rows import dict_row

        psycopg = self._psycopg
        try:
            return psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10,
                                   application_name="wampchat")
        except psycopg.ProgrammingError as e:  # a malformed conninfo
            raise StartupError(f"--db: not a valid postgresql:// URL: {_first_line(e)}") from e
        except psycopg.Error as e:
            raise StartupError(f"cannot connect to {self.describe()}: {_first_line(e)}") from e

    def begin(self, conn):
        """psycopg opens a transaction with the first statement."""

    def convert(self, sql):
        return _pyformat(sql)

    def table_names(self, tx):
        rows = tx.query("SELECT table_name AS name FROM information_schema.tables "
                        "WHERE table_schema = current_schema()")
        return {r["name"] for r in rows}

    def lock_migrations(self, tx):
        """Nodes starting together migrate one after the other."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def lock_key(self, tx, space, key):
        """A lock on ``key`` (text) in the lock space ``space`` (a number), held until commit: what one
        node does for ``key`` waits for what another does."""
        tx.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (space, key))

    def now_ms_sql(self):
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"


_MIGRATION_LOCK = 0x77636D67    # "wcmg"
_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=1024)
def _pyformat(sql):
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class ConnectionList:
    """Every connection the pool's threads opened, so stopping can close them all."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open = set()

    def add(self, conn):
        with self._lock:
            self._open.add(conn)

    def discard(self, conn):
        with self._lock:
            self._open.discard(conn)

    def close_all(self):
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.close()
            except Exception:  # closing a broken connection may raise; it is gone either way
                pass
