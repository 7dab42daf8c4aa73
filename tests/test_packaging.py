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
import shlex
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


def unit_setting(name):
    """The value of ``name=`` in docs/wampchat.service, with backslash-continued lines joined."""
    text = (REPO / "docs" / "wampchat.service").read_text().replace("\\\n", " ")
    [value] = re.findall(rf"^{name}=(.*)$", text, flags=re.M)
    return value


def unit_command(bin_dir, state_dir):
    """The unit's ExecStart as an argv for this machine: ``bin_dir``'s twistd, port 0, ``state_dir``, no extra options."""
    command = shlex.split(unit_setting("ExecStart"))
    assert command[0] == "/opt/wampchat/bin/twistd" and command[-1] == "$WAMPCHAT_OPTIONS", command
    command = [str(bin_dir / "twistd")] + command[1:-1]
    return [arg.replace("tcp:8080:", "tcp:0:").replace("/var/lib/wampchat", str(state_dir)) for arg in command]


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


def test_without_npm_ci_metadata_builds_and_a_package_build_says_what_to_do(checkout, tmp_path):
    """`make` installs (egg_info) before `npm ci`, so that works without AutobahnJS; an sdist or wheel build stops."""
    bare = tmp_path / "bare"
    shutil.copytree(checkout, bare, ignore=shutil.ignore_patterns("node_modules", "*.egg-info"))
    run(sys.executable, "setup.py", "-q", "egg_info", cwd=bare)  # what pip install -e runs first
    sources = (bare / "wampchat.egg-info" / "SOURCES.txt").read_text().split()
    assert "web/index.html" in sources and f"web/{AUTOBAHN}" not in sources
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp_path / "dist", bare],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and not list((tmp_path / "dist").glob("*"))
    assert "autobahn.min.js" in done.stdout + done.stderr and "run `make web-deps`" in done.stdout + done.stderr


@requires_browser
@pytest.mark.browser
@pytest_twisted.ensureDeferred
async def test_installed_wheel_serves_a_working_chat_page(installed, tmp_path, browsers):
    """The systemd unit's command from the wheel's venv, in an empty directory, serves the page; a guest's message comes back.

    It is docs/wampchat.service's ExecStart with the venv's twistd, port 0
    and the temporary directory in place of /var/lib/wampchat.
    """
    where = run(installed / "python", "-c", "import wampchat.tap as t; print(t.__file__); print(t.DEFAULT_WEB)",
                cwd=tmp_path).split()
    venv = str(installed.parent)
    assert where[0].startswith(venv) and where[1] == os.path.join(os.path.dirname(where[0]), "static"), where

    workdir = tmp_path / "empty"
    workdir.mkdir()
    log_path = tmp_path / "twistd.log"  # the unit logs to stdout (journald); here stdout goes to a file
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    command = unit_command(installed, workdir)
    assert command[1:] == ["-n", "--pidfile=", "--logfile=-", "wampchat", "--listen", "tcp:0:interface=127.0.0.1",
                           "--db", f"{workdir}/wampchat.sqlite"]
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT)
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
        assert (workdir / "wampchat.sqlite").exists()
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


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is missing: apt-get install systemd, then rerun")
def test_systemd_unit_verifies_and_is_hardened(installed, tmp_path):
    """systemd accepts every line of docs/wampchat.service, and its offline security score is 2.0 or better."""
    unit = tmp_path / "wampchat.service"  # the unit as installed here: ExecStart must name an existing program
    unit.write_text((REPO / "docs" / "wampchat.service").read_text().replace(
        "/opt/wampchat/bin/twistd", str(installed / "twistd")))
    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", unit], capture_output=True, text=True, timeout=60)
    # verify exits 0 even for unknown keys or bad values; it reports them on stderr
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr
    security = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", unit],
                              capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for wampchat\.service: (\d+\.\d+)", security.stdout)
    assert found, security.stdout + security.stderr
    assert float(found.group(1)) <= 2.0, security.stdout
