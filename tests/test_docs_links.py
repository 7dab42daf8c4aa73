"""Every relative link in README.md and docs/*.md leads somewhere: to a file of the checkout and, with a
``#fragment``, to a heading of that file (GitHub's anchors). The guides link each other a lot; a heading renamed
or a section moved must fail here, not in a reader's hands."""
import pathlib
import re
import sys
from typing import Dict, Iterator, List, Set, Tuple

REPO = pathlib.Path(__file__).resolve().parent.parent
STORE_INDEPENDENT = True  # reads files only

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+).+?(?<!`)\1(?!`)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", flags=re.I)  # http:, https:, mailto:, ...


def markdown_files() -> List[pathlib.Path]:
    """The project's own docs: the landing page and every guide."""
    return [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def prose_lines(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked out."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, CODE_SPAN.sub("", line)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces turned into dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading counts by its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: pathlib.Path) -> Set[str]:
    """Every anchor of a markdown file; repeated headings get -1, -2, ... as on GitHub."""
    seen: Dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: pathlib.Path) -> Iterator[Tuple[int, str]]:
    """(line number, target) of every markdown link and image in the file's prose."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            yield number, target


def broken_links(path: pathlib.Path) -> List[str]:
    """The relative links of ``path`` whose file or anchor does not exist, as 'file:line: target (why)'."""
    broken = []
    for number, target in links(path):
        if EXTERNAL.match(target):
            continue
        file_part, _, fragment = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        if not destination.exists():
            broken.append(f"{where} (no such file)")
        elif REPO not in destination.parents and destination != REPO:
            broken.append(f"{where} (outside the repository)")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{where} (no such heading)")
    return broken


def test_the_docs_are_the_readme_and_the_guides():
    """The check covers the landing page and the guides in docs/, not an empty list."""
    names = {p.relative_to(REPO).as_posix() for p in markdown_files()}
    assert {"README.md", "docs/API.md", "docs/running.md", "docs/performance.md"} <= names


def test_every_relative_link_resolves_to_a_file_and_heading():
    """Each relative link (and image) in README.md and docs/*.md names a file that exists and, after '#', one of
    its headings."""
    broken = [problem for path in markdown_files() for problem in broken_links(path)]
    assert broken == []


def test_no_doc_points_outside_the_project():
    """The project's docs never send a reader to ../shared (the contract's working copy, not part of wampchat)."""
    offenders = [str(p.relative_to(REPO)) for p in markdown_files() if "../shared" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_link_checker_finds_what_is_broken(tmp_path, monkeypatch):
    """A missing file, a missing heading and a link into code are told apart, so a pass means something."""
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# A page\n\n## Same\n\n## Same\n\n[ok](#same-1) [gone](#nowhere) [file](other.md)\n"
                    "`[code](missing.md)`\n\n```\n[fenced](missing.md)\n```\n[web](https://example.com/x)\n",
                    encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert broken_links(page) == ["docs/page.md:7: #nowhere (no such heading)",
                                  "docs/page.md:7: other.md (no such file)"]


def test_no_merge_conflict_markers_are_left_anywhere():
    """A merge left half-done must not land: no line of the docs, the code, the page or the tests is a
    conflict marker."""
    marker = re.compile(r"^(<{7}|>{7}) |^={7}$")
    places = [REPO / "README.md", *(REPO / "docs").rglob("*.md"), *(REPO / "wampchat").rglob("*.py"),
              *(REPO / "tests").glob("*.py"), *(REPO / "web" / "js").glob("*.js"), *(REPO / "web" / "css").glob("*.css"),
              REPO / "web" / "index.html"]
    found = [f"{path.relative_to(REPO)}:{number}" for path in places if path.is_file()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if marker.match(line)]
    assert found == []
