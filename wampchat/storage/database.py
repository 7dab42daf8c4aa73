"""
Transactions on database threads, so the reactor thread never waits on the database.

``Database.run(fn, *args)`` runs ``fn(tx, *args)`` on one of the engine's
threads (one for SQLite, a few for PostgreSQL), each keeping its own
connection, inside one transaction: committed if ``fn`` returns, rolled back
if it raises. A connection that breaks is dropped and the error becomes
:class:`StoreUnavailable`; the next transaction on that thread connects
again, so the service recovers by itself when the database comes back.
"""
import contextlib
import threading

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from wampchat.storage.engines import ConnectionList
from wampchat.storage.errors import Conflict, StartupError, StoreUnavailable
from wampchat.storage.group_commit import GroupCommit


ROWS_PER_INSERT = 100  # rows per multi-row INSERT: within every engine's parameter limit for wide rows


class Transaction:
    """A cursor in an open transaction, speaking ``?`` placeholders on every engine."""

    __slots__ = ("engine", "_cursor", "executed", "_pipeline")

    def __init__(self, engine, cursor):
        self.engine = engine
        self._cursor = cursor
        self.executed = 0     # statements that reached the database (none: a failure changed nothing)
        self._pipeline = None

    def execute(self, sql, params=()):
        self._cursor.execute(self.engine.convert(sql), params)
        if self._pipeline is None:    # in a pipeline it has only been queued
            self.executed += 1
        return self._cursor

    def insert_rows(self, insert, rows):
        """``insert`` ("INSERT INTO t (a, b)") of every row in ``rows`` (equal-length tuples), up to
        :data:`ROWS_PER_INSERT` rows per statement. One multi-row statement is one step of the
        database, where a driver's ``executemany`` takes one per row: on SQLite each step hands the interpreter
        to the reactor and back, which costs more than the row."""
        rows = list(rows)
        if not rows:
            return
        group = "(" + ", ".join("?" * len(rows[0])) + ")"
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start:start + ROWS_PER_INSERT]
            self.execute(f"{insert} VALUES " + ", ".join([group] * len(chunk)),
                         [value for row in chunk for value in row])

    def run_script(self, script):
        """Execute each statement of a script (a migration's DDL); statements end with ``;`` at a line end."""
        for statement in script.split(";\n"):
            if statement.strip():
                self.execute(statement)

    def query(self, sql, params=()):
        """Every row (mappings by column name)."""
        return self.execute(sql, params).fetchall()

    def one(self, sql, params=()):
        """The first row, or None."""
        return self.execute(sql, params).fetchone()

    def later(self, sql, params=()):
        """A query whose rows are read when asked for (:class:`Later`). In a :meth:`pipeline` on
        PostgreSQL every query asked for this way goes to the server in one round trip; elsewhere
        it runs at once."""
        cursor = self._cursor.connection.cursor()
        cursor.execute(self.engine.convert(sql), params)
        later = Later(self, cursor)
        if self._pipeline is None:
            later.rows()
        return later

    @contextlib.contextmanager
    def pipeline(self):
        """Statements in the block are sent without waiting for each answer, where the engine can
        (PostgreSQL's pipeline mode): reading a :meth:`later` query's rows, or :attr:`rowcount`,
        waits for everything sent before it; leaving the block waits for the rest."""
        if not self.engine.pipelines or self._pipeline is not None:
            yield
            return
        with self._cursor.connection.pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None
        self.executed += 1    # it all reached the database

    @property
    def rowcount(self):
        if self._pipeline is not None:
            self._pipeline.sync()
        return self._cursor.rowcount


class Later:
    """The rows of a query sent with :meth:`Transaction.later`."""

    __slots__ = ("_tx", "_cursor", "_rows")

    def __init__(self, tx, cursor):
        self._tx = tx
        self._cursor = cursor
        self._rows = None

    def rows(self):
        if self._rows is None:
            self._rows = self._cursor.fetchall()
            self._tx.executed += 1
            self._cursor.close()
        return self._rows

    def one(self):
        rows = self.rows()
        return rows[0] if rows else None


def run_sync(engine, conn, fn, *args):
    """``fn(tx, *args)`` in one transaction on ``conn``, on this thread (start-up, migrations and the admin
    command, which have no reactor to wait for)."""
    return _transaction(engine, conn, Transaction(engine, conn.cursor()), fn, args)


def _transaction(engine, conn, tx, fn, args):
    engine.begin(conn)
    try:
        result = fn(tx, *args)
    except BaseException:
        try:
            conn.rollback()
        except engine.unavailable_errors:
            pass  # the connection broke: the error being raised says why
        raise
    conn.commit()
    return result


class Database:
    """A started pool of database threads for one engine."""

    def __init__(self, engine, reactor, pool_size=None):
        self.engine = engine
        self._reactor = reactor
        size = pool_size or engine.pool_size
        self._pool = ThreadPool(minthreads=1, maxthreads=size, name=f"wampchat-db-{engine.name}")
        self._local = threading.local()
        self._connections = ConnectionList()
        self.failures = 0
        self.last_error = None    # why the last transaction could not reach the database (None: it could)
        self._pool.start()

    def close(self):
        """Finish queued work, stop the threads and close their connections."""
        self._pool.stop()
        self._connections.close_all()

    def run(self, fn, *args):
        """Deferred of ``fn(tx, *args)``, committed; fails with Conflict or StoreUnavailable as it may."""
        return deferToThreadPool(self._reactor, self._pool, self._transact, fn, args)

    def group_commit(self, fn, *args, **options):
        """A :class:`GroupCommit`: ``submit(item)`` runs ``fn(tx, [items...], *args)`` together with the
        items submitted while the one before committed."""
        return GroupCommit(self, fn, *args, **options)

    def in_thread(self, fn, *args):
        """Queue ``fn(*args)`` for a database thread, behind the transactions already queued."""
        self._pool.callInThread(fn, *args)

    def call_from_thread(self, fn, *args):
        """From a database thread: ``fn(*args)`` on the reactor, in the order such calls were made."""
        self._reactor.callFromThread(fn, *args)

    def transact(self, fn, *args):
        """On a database thread: ``fn(tx, *args)`` in one transaction, as :meth:`run` does."""
        return self._transact(fn, args)

    # -- on a database thread -------------------------------------------------
    def _connection(self):
        """This thread's connection, and whether it is new."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, False
        try:
            conn = self.engine.connect()
        except StartupError as e:  # at run time, not being able to connect is an outage
            self.failures += 1
            self.last_error = str(e)
            raise StoreUnavailable(str(e)) from e
        self._local.conn = conn
        self._connections.add(conn)
        return conn, True

    def _drop(self, conn):
        self._local.conn = None
        self._connections.discard(conn)
        try:
            conn.close()
        except self.engine.unavailable_errors:
            pass  # it is broken already; we only wanted it gone

    def _transact(self, fn, args):
        """One transaction; a kept connection found dead before anything ran is replaced once, quietly
        (the database restarted since it was last used), so only a real outage reaches the caller."""
        while True:
            conn, fresh = self._connection()
            tx = None
            try:
                tx = Transaction(self.engine, conn.cursor())
                result = _transaction(self.engine, conn, tx, fn, args)
            except self.engine.integrity_errors as e:
                raise Conflict(str(e)) from e
            except self.engine.unavailable_errors as e:
                self._drop(conn)
                if not fresh and (tx is None or tx.executed == 0):
                    continue
                self.failures += 1
                self.last_error = f"{self.engine.describe()}: {' '.join(str(e).split())}"
                raise StoreUnavailable(self.last_error) from e
            self.last_error = None
            return result

    def health(self):
        """What /healthz shows under "database"."""
        state = "ok" if self.last_error is None else "unavailable"
        return {"engine": self.engine.name, "where": self.engine.describe(), "state": state,
                "error": self.last_error}
