"""
The storage layer's shape: every chat SQL statement under wampchat/storage, split by domain into modules under 300
lines; engines that name no table; migrations that import nothing of the database layer; no import cycles (imports
inside functions count too).
"""
import ast
import re

from importgraph import WAMPCHAT, cycle_in, import_graph

STORAGE = WAMPCHAT / "storage"
SQL = re.compile(r"\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)")
CHAT_TABLES = ("users", "rooms", "members", "messages", "reads", "mentions", "reactions", "online", "nodes",
               "rate_events", "counters", "message_numbers", "messages_fts", "messages_unindexed")


def storage_graph() -> dict[str, set[str]]:
    """Storage module -> the storage modules it imports."""
    return import_graph(STORAGE, faces=("wampchat.storage", "wampchat.storage.chat"))


def test_no_import_cycle_in_storage():
    assert cycle_in(storage_graph()) == []


def test_migrations_import_nothing_of_the_database_layer():
    """Each migration is given the transaction and the engine; the package only knows errors and its modules."""
    graph = storage_graph()
    for name, imported in graph.items():
        if name.startswith("wampchat.storage.migrations"):
            assert {m for m in imported if not m.startswith("wampchat.storage.migrations")} <= \
                {"wampchat.storage.errors"}, name


def test_every_chat_sql_statement_is_in_the_storage_layer():
    outside = [str(p.relative_to(WAMPCHAT)) for p in sorted(WAMPCHAT.rglob("*.py"))
               if STORAGE not in p.parents and SQL.search(p.read_text(encoding="utf-8"))]
    assert outside == []


def test_engines_name_no_table():
    """engines.py holds what differs between SQLite and PostgreSQL; SQL of a chat table lives with its domain."""
    tree = ast.parse((STORAGE / "engines.py").read_text(encoding="utf-8"))
    statements = [node.value for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)]
    named = [table for table in CHAT_TABLES if any(re.search(rf"\b{table}\b", sql) for sql in statements)]
    assert named == []


def test_domain_modules_stay_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (STORAGE / "chat").glob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines >= 300} == {}
    assert {"accounts.py", "rooms.py", "members.py", "messages.py", "reactions.py", "search.py", "presence.py",
            "rates.py", "sends.py", "store.py"} <= set(sizes)
