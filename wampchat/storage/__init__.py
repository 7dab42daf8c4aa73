"""
Storage: one interface over SQLite (embedded, one node) and PostgreSQL (shared by a cluster).

``open_database(db, reactor)`` checks the database, runs pending migrations
and returns a started :class:`~wampchat.storage.database.Database`, whose
``run(fn, *args)`` runs ``fn(tx, *args)`` in one transaction on a database
thread and returns a Deferred. The chat tables (:mod:`wampchat.storage.chat`)
are written against that and nothing else.
"""
from wampchat.storage.database import Database, Transaction, run_sync
from wampchat.storage.engines import engine_for
from wampchat.storage.errors import Conflict, StartupError, StoreError, StoreUnavailable
from wampchat.storage.migrations import LATEST_VERSION, schema_version
from wampchat.storage.prepare import migrate, open_database, prepare_database

__all__ = ["Database", "Transaction", "open_database", "prepare_database", "run_sync", "engine_for", "Conflict",
           "StartupError", "StoreError", "StoreUnavailable", "LATEST_VERSION", "migrate", "schema_version"]
