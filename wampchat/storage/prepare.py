"""
Start-up: the database named by ``--db`` checked, migrated and opened.

This is the one module that knows both the transactions
(:mod:`wampchat.storage.database`) and the schema
(:mod:`wampchat.storage.migrations`), so neither imports the other.
"""
from wampchat.storage import migrations
from wampchat.storage.database import Database, run_sync
from wampchat.storage.engines import engine_for
from wampchat.storage.errors import StartupError


def migrate(engine, conn, upgrade=True):
    """Bring the database on ``conn`` to the latest schema in one transaction; returns (found, now).

    With ``upgrade=False`` an older schema is a StartupError
    (:func:`~wampchat.storage.migrations.upgrade_schema`).
    """
    try:
        return run_sync(engine, conn, migrations.upgrade_schema, upgrade)
    except engine.database_errors as e:
        raise StartupError(f"{engine.describe()}: {' '.join(str(e).split())}") from e


def prepare_database(db, upgrade=True):
    """Check (and migrate) the database named by ``--db``; its engine, ready for :class:`Database`.

    Runs synchronously, at start-up before serving: a database that cannot
    be used raises StartupError with a one-line reason.
    """
    engine = engine_for(db)
    conn = engine.connect()
    try:
        migrate(engine, conn, upgrade=upgrade)
    finally:
        conn.close()
    return engine


def open_database(db, reactor, pool_size=None, upgrade=True):
    """:func:`prepare_database`, then start its threads."""
    return Database(prepare_database(db, upgrade), reactor, pool_size)
