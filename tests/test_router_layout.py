"""
The router package's shape: no import cycles (imports inside functions count too), and nothing of Autobahn
is patched as a side effect of importing a module: the Router installs its patch when it is built.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

ROUTER = Path(__file__).resolve().parent.parent / "wampchat" / "router"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROUTER.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def router_imports(path: Path, modules: set) -> set:
    """The router modules that ``path`` imports anywhere in it (top level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict:
    paths = sorted(ROUTER.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    package = "wampchat.router"
    # the package's face (__init__) only hands names on; an arrow into it is an arrow into what it re-exports
    return {module_name(p): router_imports(p, modules) - {package} for p in paths if module_name(p) != package}


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, trail + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    """The checker itself: a loop through three modules is found, a tree is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_router_modules_import_no_cycle():
    """No router module imports one that (through others) imports it back, not even from inside a function."""
    graph = import_graph()
    assert "wampchat.router.dealer" in graph
    assert find_cycle(graph) is None


def run_python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROUTER.parent.parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_transports_patches_nothing_and_the_router_installs_its_patch():
    """Importing the router's modules leaves Autobahn as it is; building a Router makes its debug text lazy."""
    out = run_python(
        "import pprint\n"
        "import wampchat.router.transports, wampchat.router.router\n"
        "from autobahn.websocket import protocol\n"
        "print(protocol.pformat is pprint.pformat)\n"
        "from twisted.internet.task import Clock\n"
        "wampchat.router.router.Router(Clock())\n"
        "print(protocol.pformat is pprint.pformat)\n"
    )
    assert out.split() == ["True", "False"]
