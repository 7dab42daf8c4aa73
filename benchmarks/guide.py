"""
The performance guide's tables, written by ``make bench`` so that no figure in it is copied by hand.

docs/performance.md holds one block between ``<!-- bench:begin -->`` and
``<!-- bench:end -->``; a full run replaces what is between them with the
machine, the command, every suite's table and the targets of the wave with
where each stands. The prose around the block names no figure of a run.
"""
from pathlib import Path
from typing import Callable, List, Optional, Tuple

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def replace_block(text: str, block: str) -> Optional[str]:
    """``text`` with what lies between the markers replaced by ``block``; None when a marker is missing."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[:start + len(BEGIN)] + "\n" + block.rstrip("\n") + "\n" + text[end:]


def write_guide(block: str, path: Path = GUIDE) -> bool:
    """Put ``block`` into the guide at ``path``; False (and the guide untouched) without the markers."""
    text = path.read_text(encoding="utf-8")
    new = replace_block(text, block)
    if new is None:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def dig(results: dict, *keys):
    """``results[k1][k2]...``, or None where any step is missing."""
    for key in keys:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


# A target: its name, how to read its figure from the results (None when not measured), the bound, and
# whether the figure must stay at or below the bound (True) or reach it (False).
Target = Tuple[str, Callable[[dict], Optional[float]], float, bool, str]


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def targets_table(results: dict, targets: List[Target], only_measured: bool = False) -> str:
    """One line per target: the figure of this run, the bound, and met / NOT met / not measured (or, with
    ``only_measured``, the measured ones only: a run of some suites)."""
    head = f"{'target (issue 32)':58} {'this run':>10} {'bound':>9}  status"
    lines = [head, "-" * len(head)]
    for name, figure, bound, at_most, unit in targets:
        try:
            value = figure(results)
        except (KeyError, TypeError, ZeroDivisionError):
            value = None
        if value is None and only_measured:
            continue
        if value is None:
            lines.append(f"{name:58} {'-':>10} {('<=' if at_most else '>=') + format(bound, 'g') + unit:>9}  not measured")
            continue
        met = value <= bound if at_most else value >= bound
        lines.append(f"{name:58} {value:>9.2f}{unit} {('<=' if at_most else '>=') + format(bound, 'g') + unit:>9}  "
                     f"{'met' if met else 'NOT met'}")
    return "\n".join(lines)
