"""
Start the routers under test as child processes, and read their CPU and memory from /proc.

wampchat runs as ``twistd -n wampchat`` (one process, measured as is).
Crossbar.io runs from its own virtualenv (``benchmarks/.venv-crossbar``,
created on first use, never a project dependency) with a minimal config; it
is a controller plus worker processes, and we measure the router worker.
Each router is started in its own process group and killed as a group.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CROSSBAR_VENV = HERE / ".venv-crossbar"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class RouterUnavailable(Exception):
    """The router cannot be installed or started here; the message says why."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout, log_path):
    """Poll until something accepts on 127.0.0.1:port; fail early if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RouterUnavailable(f"exited with {proc.returncode}; log tail:\n{tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RouterUnavailable(f"not listening on port {port} after {timeout}s; log tail:\n{tail(log_path)}")


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def proc_cpu_seconds(pid):
    """CPU time of every thread of ``pid``, in seconds.

    Summed from /proc/pid/task/*/schedstat (nanoseconds) where the kernel has
    it, so short runs are not lost in /proc/pid/stat's 10 ms clock ticks;
    otherwise utime + stime from /proc/pid/stat.
    """
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:
                continue  # a thread that just ended
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def children(pid):
    """Direct children of ``pid`` with their command lines."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    found.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except (OSError, ValueError, IndexError):
            continue
    return found


class RouterProcess:
    """A running router: its URL, the pid we measure, and how to stop it."""

    def __init__(self, name, url, proc, pid, workdir, log_path):
        self.name = name
        self.url = url
        self.proc = proc
        self.pid = pid
        self.workdir = workdir
        self.log_path = log_path

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def rss_bytes(self):
        return proc_rss_bytes(self.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM the whole process group, then SIGKILL whatever is left after 10 s."""
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        # Crossbar workers may outlive the controller for a moment; the group goes in any case.
        _signal_group(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _spawn(cmd, workdir, log_path, env=None):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    finally:
        log.close()


# The load's guests and logins all come from 127.0.0.x too: the per-address guest and login limits
# would refuse them (checkouts from before those options have neither).
GENEROUS_LOGIN_LIMITS = ("--guest-rate", "0", "--login-address-burst", "100000", "--login-account-burst", "100000",
                         "--guest-send-rate", "1000000")


def _generous_login_limits(source):
    """GENEROUS_LOGIN_LIMITS, or none for a ``source`` checkout whose settings do not have them."""
    settings = Path(source) / "wampchat" / "settings.py" if source else None
    if settings is None or (settings.exists() and "guest-rate" in settings.read_text()):
        return GENEROUS_LOGIN_LIMITS
    return ()


def start_wampchat(workdir, timeout=30, db=None, extra=(), name="wampchat", source=None, pythonpath=(), port=None):
    """``twistd -n wampchat`` on a free loopback port; database ``db`` (default: a SQLite file in ``workdir``).

    ``extra`` are more wampchat options (``--amqp``, ``--node-id``,
    ``--send-rate``); ``name`` names the log files, so several nodes can
    share ``workdir``. ``source`` is another checkout whose wampchat runs
    instead of this one (an earlier commit; default: ``BENCH_WAMPCHAT_SOURCE``,
    same venv); ``pythonpath`` are directories put before it (the ceiling's
    ``sitecustomize``). With ``--amqp`` it returns once /healthz says the
    broker link is up, so no publication of the measurement waits for it.
    """
    twistd = Path(sys.executable).parent / "twistd"
    if not twistd.exists():
        twistd = shutil.which("twistd")
        if twistd is None:
            raise RouterUnavailable("no twistd next to this Python or on PATH")
    port = port or free_port()
    log_path = Path(workdir) / f"{name}.log"
    source = source or os.environ.get("BENCH_WAMPCHAT_SOURCE")
    path = [str(p) for p in pythonpath] + ([str(source)] if source else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path)) if path else None
    # the load generators all connect from 127.0.0.x: the default cap of 100 connections per
    # address, which protects a public server, would refuse them (the first wave has
    # neither the cap nor the option)
    capped = not source or any("max-connections-per-address" in path.read_text()
                               for path in (Path(source) / "wampchat").glob("*.py"))
    unlimited = ("--max-connections-per-address", "0") if capped else ()
    unlimited += _generous_login_limits(source)
    # BENCH_PROFILE=DIR: the router runs under cProfile and leaves DIR/<name>-<time>.prof when it stops
    profile_dir = os.environ.get("BENCH_PROFILE")
    profile = (f"--profile={Path(profile_dir) / name}-{time.time():.0f}.prof", "--profiler=cprofile", "--savestats") \
        if profile_dir else ()
    cmd = [str(twistd), "-n", "--pidfile=", f"--logfile={log_path}", *profile, "wampchat",
           "--listen", f"tcp:{port}:interface=127.0.0.1", "--db", db or str(Path(workdir) / f"{name}.sqlite"),
           *unlimited, *extra]
    proc = _spawn(cmd, workdir, Path(workdir) / f"{name}.stdout", env)
    router = RouterProcess(name, f"ws://127.0.0.1:{port}/ws", proc, proc.pid, workdir, log_path)
    router.http_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, proc, timeout, log_path)
        # the chat procedures are registered once the store is open; a call before that finds none
        # (an earlier checkout's /healthz has no "chat" entry: it is taken as ready)
        wait_for_health(router, lambda h: h.get("chat", {"state": "ready"}).get("state") == "ready", timeout)
        if "--amqp" in extra:
            wait_for_health(router, lambda h: h.get("amqp", {}).get("state") == "connected", timeout)
    except BaseException:
        router.stop()
        raise
    return router


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for_health(router, ready, timeout):
    """Poll the router's /healthz until ``ready(health)``, with a deadline."""
    deadline = time.monotonic() + timeout
    health = None
    while time.monotonic() < deadline:
        if not router.alive():
            raise RouterUnavailable(f"{router.name} exited; log tail:\n{tail(router.log_path)}")
        try:
            health = get_json(router.http_url + "/healthz")
            if ready(health):
                return health
        except OSError:
            pass
        time.sleep(0.1)
    raise RouterUnavailable(f"{router.name} not ready after {timeout}s (health {health}); "
                            f"log tail:\n{tail(router.log_path)}")


def scrape(router, names):
    """The values of ``names`` (sample names) on the router's /metrics page; 0 for an absent one."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(router.http_url + "/metrics", timeout=10) as response:
        text = response.read().decode("utf-8")
    values = dict.fromkeys(names, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in values and not sample.labels:
                values[sample.name] = sample.value
    return values


def ensure_crossbar(timeout=900):
    """Create ``benchmarks/.venv-crossbar`` with ``pip install crossbar`` unless it is there; path of crossbar."""
    crossbar = CROSSBAR_VENV / "bin" / "crossbar"
    if crossbar.exists():
        return crossbar
    log_path = Path(tempfile.gettempdir()) / "wampchat-crossbar-install.log"
    print(f"installing Crossbar.io into {CROSSBAR_VENV} (log: {log_path}) ...", flush=True)
    base = shutil.which("python3") or sys.executable
    steps = [[base, "-m", "venv", str(CROSSBAR_VENV)],
             [str(CROSSBAR_VENV / "bin" / "pip"), "install", "-q", "--upgrade", "pip", "wheel"],
             [str(CROSSBAR_VENV / "bin" / "pip"), "install", "-q", "crossbar"]]
    deadline = time.monotonic() + timeout
    with open(log_path, "ab") as log:
        for step in steps:
            try:
                rc = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=max(1, deadline - time.monotonic())).returncode
            except subprocess.TimeoutExpired:
                raise RouterUnavailable(f"installing Crossbar took more than {timeout}s")
            if rc != 0:
                raise RouterUnavailable(f"{' '.join(step)} failed ({rc}); see {log_path}:\n{tail(log_path)}")
    if not crossbar.exists():
        raise RouterUnavailable(f"pip install crossbar left no {crossbar}")
    return crossbar


def crossbar_config(port, disclose_caller=False):
    """One realm ``wampchat``, the anonymous role allowed everything, WebSocket on 127.0.0.1 (json, msgpack).

    ``disclose_caller``: callees learn the caller's session and authid (a chat
    service needs to know who sends), which Crossbar does only when told.
    """
    allow = {"call": True, "register": True, "publish": True, "subscribe": True}
    return {
        "version": 2,
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{
                "name": "wampchat",
                "roles": [{"name": "anonymous", "permissions": [
                    {"uri": "", "match": "prefix", "allow": allow,
                     "disclose": {"caller": disclose_caller, "publisher": False}, "cache": True}]}],
            }],
            "transports": [{
                "type": "websocket",
                "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                "serializers": ["json", "msgpack"],
                "auth": {"anonymous": {"type": "static", "role": "anonymous"}},
            }],
        }],
    }


def crossbar_version():
    python = CROSSBAR_VENV / "bin" / "python"
    try:
        out = subprocess.run([str(python), "-c", "import crossbar; print(crossbar.__version__)"],
                             capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def start_crossbar(workdir, timeout=90, disclose_caller=False):
    """``crossbar start`` with the minimal config; measure its router worker process."""
    crossbar = ensure_crossbar()
    port = free_port()
    cbdir = Path(workdir) / ".crossbar"
    cbdir.mkdir(parents=True, exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(crossbar_config(port, disclose_caller), indent=2))
    log_path = Path(workdir) / "crossbar.log"
    env = dict(os.environ, PATH=f"{CROSSBAR_VENV / 'bin'}:{os.environ.get('PATH', '')}")
    proc = _spawn([str(crossbar), "start", "--cbdir", str(cbdir), "--loglevel", "warn"], workdir, log_path, env)
    router = RouterProcess("crossbar", f"ws://127.0.0.1:{port}/ws", proc, None, workdir, log_path)
    try:
        wait_for_port(port, proc, timeout, log_path)
        router.pid = find_router_worker(proc.pid)
    except BaseException:
        router.stop()
        raise
    return router


def find_router_worker(controller_pid, timeout=10):
    """The controller's child whose command line names a router worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, cmdline in children(controller_pid):
            low = cmdline.lower()
            if "worker" in low and "router" in low:
                return pid
        time.sleep(0.2)
    found = children(controller_pid)
    raise RouterUnavailable(f"no router worker among the Crossbar controller's children: {found}")


STARTERS = {"wampchat": start_wampchat, "crossbar": start_crossbar}
