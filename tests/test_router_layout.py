"""
The router package's shape: no import cycles (imports inside functions count too), and nothing of Autobahn
is patched as a side effect of importing a module: the Router installs its patch when it is built.
"""
import os
import subprocess
import sys

from importgraph import WAMPCHAT, cycle_in, import_graph

ROUTER = WAMPCHAT / "router"


def test_find_cycle_finds_one():
    """The checker itself: a loop through three modules is found, a tree is not."""
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_router_modules_import_no_cycle():
    """No router module imports one that (through others) imports it back, not even from inside a function."""
    graph = import_graph(ROUTER, faces=("wampchat.router",))
    assert "wampchat.router.dealer" in graph
    assert cycle_in(graph) == []


def run_python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROUTER.parent.parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_transports_patches_nothing_and_the_router_installs_its_patch():
    """Importing the router's modules leaves Autobahn as it is; building a Router makes its debug text lazy."""
    out = run_python(
        "import pprint\n"
        "import wampchat.router.transports.websocket, wampchat.router.transports.rawsocket, wampchat.router.router\n"
        "from autobahn.websocket import protocol\n"
        "print(protocol.pformat is pprint.pformat)\n"
        "from twisted.internet.task import Clock\n"
        "wampchat.router.router.Router(Clock())\n"
        "print(protocol.pformat is pprint.pformat)\n"
    )
    assert out.split() == ["True", "False"]
