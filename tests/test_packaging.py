"""
What `pip install` gives a user: the sdist and wheel carry the page and
AutobahnJS, an installed wheel serves a working chat page from an empty
directory, and a plain editable install still finds the twistd plugin.

Each test works on a copy of the checkout (so build output never lands in
the work tree) and installs into a fresh ``python -m venv``; pip fetches the
dependencies from the package registry, or its cache after `make test` has
run once. About a minute in all; `-m "not packaging"` leaves these out.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import types
import zipfile

import pytest
import pytest_twisted

from browser import REPO, browsers, requires_browser  # noqa: F401  (browsers is a fixture)
from helpers import poll_until
from test_web_chat import join_as_guest, open_room, say
from wampchat import testing

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(300)]

AUTOBAHN = "node_modules/autobahn-browser/autobahn.min.js"
# Never part of a checkout that is built: local environments and build output.
NOT_IN_A_CHECKOUT = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                           "node_modules", "test-artifacts", "var", "dropin.cache", ".pytest_cache")


def run(*args, cwd=None, timeout=300):
    """Run a command with no PYTHONPATH leaking the repository in; fail with its output if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the repository as `make web-deps` leaves a fresh clone: sources, web/ and AutobahnJS only."""
    if not (REPO / "web" / AUTOBAHN).exists():
        pytest.fail("web/node_modules/autobahn-browser is missing: run `make web-deps` (npm ci in web/)")
    dest = tmp_path_factory.mktemp("checkout") / "wampchat"
    shutil.copytree(REPO, dest, ignore=NOT_IN_A_CHECKOUT)
    shutil.copytree(REPO / "web" / "node_modules" / "autobahn-browser", dest / "web" / "node_modules" / "autobahn-browser")
    return dest


@pytest.fixture(scope="module")
def dist(checkout, tmp_path_factory):
    """`python -m build` of the checkout: the sdist, and the wheel build makes from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with this venv's setuptools and wheel instead of fetching them again
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, checkout)
    [sdist] = out.glob("wampchat-*.tar.gz")
    [wheel] = out.glob("wampchat-*.whl")
    return sdist, wheel


def fresh_venv(path):
    """A new `python -m venv` (with pip) at ``path``; its bin directory."""
    run(sys.executable, "-m", "venv", path)
    return path / "bin"


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh venv with the wheel (and its dependencies) installed; its bin directory."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    run(bin_dir / "pip", "install", "-q", dist[1])
    return bin_dir


def page_references(files):
    """Every local path the page loads: src/href in index.html and relative imports in its modules.

    ``files`` maps page-relative paths to their text; references resolve
    relative to the file that makes them.
    """
    refs = set()
    for name, text in files.items():
        if name.endswith(".html"):
            found = re.findall(r'(?:src|href)="([^"#:]+)"', text)
        elif name.endswith(".js"):
            found = re.findall(r'(?:import|from)\s*\(?\s*"(\.{1,2}/[^"]+)"', text)
        else:
            continue
        base = os.path.dirname(name)
        refs |= {os.path.normpath(os.path.join(base, ref)) for ref in found}
    return refs


def test_sdist_and_wheel_carry_the_page_and_autobahn(dist):
    """The sdist has web/ and AutobahnJS; the wheel has them as wampchat/static/, the plugin, and every file the page loads."""
    sdist, wheel = dist
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"web/index.html", "web/js/app.js", "web/css/chat.css", f"web/{AUTOBAHN}", "setup.py"} <= in_sdist
    assert not [n for n in in_sdist if n.startswith("web/node_modules/") and "autobahn-browser" not in n]

    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        static = {n[len("wampchat/static/"):]: n for n in names if n.startswith("wampchat/static/")}
        texts = {rel: whl.read(n).decode("utf-8") for rel, n in static.items() if rel.endswith((".html", ".js"))}
    assert "twisted/plugins/wampchat_plugin.py" in names and "wampchat/tap.py" in names
    assert "twisted/plugins/__init__.py" not in names  # a namespace: Twisted's own plugins stay visible
    assert {"index.html", AUTOBAHN, "node_modules/autobahn-browser/LICENSE"} <= set(static)
    refs = page_references(texts)
    assert AUTOBAHN in refs and "js/app.js" in refs and "js/messages.js" in refs  # the parser sees the page
    assert refs <= set(static), f"the page loads files the wheel lacks: {sorted(refs - set(static))}"
    assert "package.json" not in static and "screenshot.png" not in static


@requires_browser
@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_installed_wheel_serves_a_working_chat_page(installed, tmp_path, browsers):
    """twistd -n wampchat from the wheel's venv, started in an empty directory, serves the page; a guest's message comes back."""
    where = run(installed / "python", "-c", "import wampchat.tap as t; print(t.__file__); print(t.DEFAULT_WEB)",
                cwd=tmp_path).split()
    venv = str(installed.parent)
    assert where[0].startswith(venv) and where[1] == os.path.join(os.path.dirname(where[0]), "static"), where

    workdir = tmp_path / "empty"
    workdir.mkdir()
    log_path = tmp_path / "twistd.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.Popen([str(installed / "twistd"), "-n", "--pidfile=", f"--logfile={log_path}", "wampchat",
                             "--listen", "tcp:0:interface=127.0.0.1"], cwd=workdir, env=env)
    try:
        port = []

        def listening():
            assert proc.poll() is None, f"twistd exited {proc.returncode}: {log_path.read_text()}"
            found = re.search(r"listening on tcp:0:interface=127\.0\.0\.1 \(.*port=(\d+)\)",
                              log_path.read_text() if log_path.exists() else "")
            if found:
                port.append(int(found.group(1)))
            return bool(port)

        await poll_until(listening, timeout=30)
        url = f"http://127.0.0.1:{port[0]}/"

        ann = await browsers("ann")
        await join_as_guest(ann, types.SimpleNamespace(url=url), "Ann")
        assert await ann.js("return typeof autobahn.Connection;") == "function"
        await open_room(ann, "lobby")
        await say(ann, "hello from the wheel")

        # the message went through the installed server: it is in the lobby's history for another client
        bob = await testing.connect(f"ws://127.0.0.1:{port[0]}/ws", authextra={"nick": "Bob"})
        try:
            history = await bob.call("chat.message.history", "lobby")
            assert [m["text"] for m in history["messages"]] == ["hello from the wheel"]
        finally:
            bob.leave()
        assert (workdir / "var" / "wampchat.sqlite").exists()  # the default --db, relative to where it runs
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    # twistd shuts down cleanly, then re-raises SIGTERM so its exit status says what stopped it
    assert proc.returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert "Server Shut Down." in log_path.read_text()


def test_plain_editable_install_finds_the_plugin(checkout, tmp_path):
    """`pip install -e .` in default mode: twistd lists the wampchat plugin, which serves the checkout's web/."""
    bin_dir = fresh_venv(tmp_path / "venv")
    run(bin_dir / "pip", "install", "-q", "-e", checkout)
    workdir = tmp_path / "empty"
    workdir.mkdir()
    usage = run(bin_dir / "twistd", "wampchat", "--help", cwd=workdir)
    assert "--listen" in usage and "--amqp" in usage
    web = run(bin_dir / "python", "-c", "import wampchat.tap as t; print(t.DEFAULT_WEB)", cwd=workdir).strip()
    assert web == os.path.realpath(checkout / "web")
