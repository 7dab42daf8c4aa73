"""
Versioned schema migrations: numbered modules, applied in order, each in the same transaction.

The version lives in the one-row table ``wampchat_schema``. A database made
before versioning (commit 5adadf8: SQLite tables ``users``, ``rooms``,
``members``, ``messages``, ``reads`` and no version table) counts as
version 1. A database holding other tables and none of ours belongs to
another application and is refused; one with a version newer than
:data:`LATEST_VERSION` was written by a newer wampchat and is refused too.
Nodes that start together take the migration lock in turn, so each
migration runs once.

Each migration is a module with ``upgrade(tx, engine)``: it is given the
open transaction and the engine (as Synapse's schema deltas are given a
cursor and the database engine) and imports nothing from the database
layer, which runs it (:func:`wampchat.storage.prepare.migrate`).
"""
from wampchat.storage.errors import StartupError
from wampchat.storage.migrations import (v001_initial, v002_cluster, v003_features, v004_search_later, v005_dm_keys,
                                         v006_name_skeletons, v007_rate_events,
                                         v008_moderation, v009_sanctions,
                                         v010_pins_and_groups, v011_files, v012_threads,
                                         v013_cluster_registrations, v014_tokens_keys,
                                         v015_link_previews, v016_testaments_retained,
                                         v017_event_history)

MIGRATIONS = (v001_initial, v002_cluster, v003_features, v004_search_later, v005_dm_keys, v006_name_skeletons,
              v007_rate_events, v008_moderation, v009_sanctions, v010_pins_and_groups, v011_files,
              v012_threads, v013_cluster_registrations, v014_tokens_keys, v015_link_previews,
              v016_testaments_retained, v017_event_history)
LATEST_VERSION = len(MIGRATIONS)
VERSION_TABLE = "wampchat_schema"
LEGACY_TABLES = {"users", "rooms", "members", "messages", "reads"}
LEGACY_MESSAGE_COLUMNS = {"id", "room", "user", "nick", "text", "ts", "client_msg_id"}


def _columns(tx, table):
    cursor = tx.execute(f"SELECT * FROM {table} LIMIT 0")
    return {column[0] for column in cursor.description}


def schema_version(tx):
    """The schema version of the database (0 when it is empty), or StartupError if it is not ours."""
    tables = tx.engine.table_names(tx)
    if VERSION_TABLE in tables:
        row = tx.one(f"SELECT version FROM {VERSION_TABLE}")
        return row["version"] if row is not None else 0
    if LEGACY_TABLES <= tables and LEGACY_MESSAGE_COLUMNS <= _columns(tx, "messages"):
        return 1
    if tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StartupError(f"{tx.engine.describe()} holds tables of another application ({shown}); "
                           "give wampchat a database of its own")
    return 0


def _set_version(tx, version):
    if VERSION_TABLE not in tx.engine.table_names(tx):
        tx.execute(f"CREATE TABLE {VERSION_TABLE} (version INTEGER NOT NULL)")
        tx.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (version,))
    else:
        tx.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (version,))


def upgrade_schema(tx, upgrade=True):
    """In ``tx``: bring the schema to :data:`LATEST_VERSION`; returns (version found, version now).

    With ``upgrade=False`` an empty database is still given the schema, but
    an older schema is a StartupError (upgrading is an operator's decision:
    ``wampchat-admin migrate``).
    """
    engine = tx.engine
    engine.lock_migrations(tx)
    found = schema_version(tx)
    if found > LATEST_VERSION:
        raise StartupError(f"{engine.describe()} has schema version {found}, newer than this wampchat knows "
                           f"({LATEST_VERSION}); run a newer wampchat")
    if 0 < found < LATEST_VERSION and not upgrade:
        raise StartupError(f"{engine.describe()} has schema version {found}, this wampchat needs "
                           f"{LATEST_VERSION}; run `wampchat-admin --db ... migrate`")
    for version, module in enumerate(MIGRATIONS[found:], start=found + 1):
        try:
            module.upgrade(tx, engine)
        except engine.database_errors as e:
            raise StartupError(f"migration {version} ({module.__doc__.strip().splitlines()[0]}) failed on "
                               f"{engine.describe()}: {' '.join(str(e).split())}") from e
    if found < LATEST_VERSION:
        _set_version(tx, LATEST_VERSION)
    return found, LATEST_VERSION
