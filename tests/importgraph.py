"""The wampchat package's import graph, read from the source (imports inside functions count too), and a cycle
finder: what the layout tests check the package's shape with."""
import ast
from pathlib import Path

WAMPCHAT = Path(__file__).resolve().parent.parent / "wampchat"


def module_name(path: Path) -> str:
    parts = path.relative_to(WAMPCHAT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every wampchat module ``path`` imports, at the top or inside a function (``from a import b`` gives
    both ``a`` and ``a.b``, since ``b`` may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("wampchat")}


def import_graph(root: Path = WAMPCHAT, faces: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Module under ``root`` -> the modules under ``root`` it imports. ``faces`` are packages whose __init__
    only hands names on, so an arrow into one stands for arrows into what it re-exports and is left out."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): (imports_of(p) & modules) - set(faces) - {module_name(p)} for p in paths}


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (a list of modules, first = last), or [] when there is none."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return []
