"""
Private PostgreSQL and RabbitMQ servers, for the test suite and the benchmarks (DESIGN.md: real components).

Both run as child processes with every path, port and credential of their
own, under a temp dir the caller gives, so they never touch a system server.
This module needs nothing but the standard library (no pytest), so
``benchmarks.run`` starts the same servers the tests use; the pytest
fixtures are in ``tests/postgres.py`` and ``tests/rabbitmq.py``.

:class:`PostgresServer`: ``initdb`` makes a cluster in the temp dir and
``pg_ctl`` starts it on a free 127.0.0.1 port, both as the ``postgres`` user
(they refuse to run as root, so the dir is made reachable for it), with its
socket in the temp dir. Local socket logins are trusted (for set-up); TCP
logins need a password, so a wrong password is really refused. ``fsync``
is off for tests (speed) and on for benchmarks (what a server does).

:class:`RabbitNode`: its own epmd port, AMQP port, distribution port, Mnesia
dir, logs, config, enabled-plugins file, env file and HOME (the Erlang
cookie). It is started with ``rabbitmq-server``, waited for with
``rabbitmqctl -n NODE wait PIDFILE`` (about 10-15 s), and stopped by its
pid. ``stop()`` and ``start()`` can be called in between (a test restarts
the broker with its data and ports unchanged).
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_ROLE, PG_PASSWORD, PG_DATABASE = "wampchat", "wampchat-secret", "wampchat"


def free_port():
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_available():
    """True when the PostgreSQL server binaries and their ``postgres`` user are here."""
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        return False
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


class PostgresServer:
    """One private server: where it lives, how to reach it, how to stop and start it."""

    def __init__(self, base, fsync=False):
        self.base = str(base)
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self.fsync = fsync
        os.chmod(self.base, 0o777)  # the postgres user writes here
        self._as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])

    def _as_postgres(self, argv, timeout=120):
        result = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                                timeout=timeout, cwd=self.base)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self):
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=100")
        self._as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-o", options, "-w", "-t", "60",
                           "-l", os.path.join(self.base, "server.log"), "start"])

    def stop(self):
        self._as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])

    def server_pid(self):
        """The postmaster's pid (the first line of ``postmaster.pid``), to read its CPU from /proc."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def psql(self, sql, database="postgres"):
        """Run SQL as the superuser over the private socket."""
        return self._as_postgres(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-h", self.base, "-p", str(self.port),
                                  "-d", database, "-c", sql])

    def set_up(self):
        """The role and database the tests use."""
        self.psql(f"CREATE ROLE {PG_ROLE} LOGIN PASSWORD '{PG_PASSWORD}'")
        self.psql(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_ROLE}")

    def url(self, schema=None, password=PG_PASSWORD, database=PG_DATABASE, port=None):
        """The ``--db`` URL, optionally confined to ``schema``."""
        url = f"postgresql://{PG_ROLE}:{password}@127.0.0.1:{port or self.port}/{database}"
        if schema:
            url += f"?options=-csearch_path%3D{schema}"
        return url

    def new_database(self):
        """A fresh, empty schema and the URL that uses it (a database of its own, for one test)."""
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return self.url(schema)

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQ_CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
BOOT_TIMEOUT = 90
STOP_TIMEOUT = 60

# Users created on the node: (name, password, tags). Nodes of wampchat log in as
# NODE_USER (listed in --amqp-node-users); outside services as SERVICE_USER.
NODE_USER = ("wcnode", "wcnode-secret")
SERVICE_USER = ("svc", "svc-secret")
OTHER_SERVICE_USER = ("bot", "bot-secret")


class RabbitNode:
    """One private broker: where it lives, how to reach it, how to stop and start it.

    With ``tls=(ca, cert, key)`` (PEM file paths) the node also has a TLS
    listener on ``tls_port`` with that certificate; clients that do not ask
    for TLS never notice it.
    """

    def __init__(self, base, tls=None):
        self.base = str(base)
        self.name = f"wampchat{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.tls_port = free_port() if tls else None
        self.tls_ca = tls[0] if tls else None
        self._tls = tls
        self.pid_file = os.path.join(self.base, "rabbit.pid")
        self.process = None
        self.env = self._environment()

    def _environment(self):
        dirs = {name: os.path.join(self.base, name) for name in ("mnesia", "log", "home", "etc")}
        for path in dirs.values():
            os.makedirs(path, exist_ok=True)
        config = os.path.join(dirs["etc"], "rabbitmq.conf")
        with open(config, "w") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                    "loopback_users = none\n"
                    "log.console = false\n"
                    "log.file.level = info\n")
            if self._tls:
                ca, cert, key = self._tls
                f.write(f"listeners.ssl.1 = 127.0.0.1:{self.tls_port}\n"
                        f"ssl_options.cacertfile = {ca}\n"
                        f"ssl_options.certfile = {cert}\n"
                        f"ssl_options.keyfile = {key}\n"
                        "ssl_options.verify = verify_none\n"        # clients need no certificate of their own
                        "ssl_options.fail_if_no_peer_cert = false\n")
        plugins = os.path.join(dirs["etc"], "enabled_plugins")
        with open(plugins, "w") as f:
            f.write("[].\n")
        env_file = os.path.join(dirs["etc"], "rabbitmq-env.conf")
        open(env_file, "w").close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": dirs["home"],
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": dirs["mnesia"],
            "RABBITMQ_LOG_BASE": dirs["log"],
            "RABBITMQ_CONFIG_FILE": config,
            "RABBITMQ_ENABLED_PLUGINS_FILE": plugins,
            "RABBITMQ_CONF_ENV_FILE": env_file,
            "RABBITMQ_PID_FILE": self.pid_file,
        })
        return env

    def ctl(self, *args, timeout=60):
        """Run ``rabbitmqctl -n NODE ARGS``; returns its stdout, raises with its output on failure."""
        result = subprocess.run([RABBITMQ_CTL, "-n", self.name, *args], env=self.env, capture_output=True,
                                text=True, timeout=timeout, cwd=self.base)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self):
        """Boot the node (about 10-15 s) and wait until it accepts AMQP connections."""
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)
        with open(os.path.join(self.base, "server.out"), "ab") as out:
            # cwd: Erlang writes crash dumps (erl_crash.dump, MnesiaCore.*) into its working directory
            self.process = subprocess.Popen([RABBITMQ_SERVER], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.base)
        try:
            self._wait_pid_written()
            self.ctl("wait", self.pid_file, "--timeout", str(BOOT_TIMEOUT), timeout=BOOT_TIMEOUT + 10)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            self.stop()
            raise RuntimeError(f"RabbitMQ did not start; see {self.base}/log and server.out: {e}") from e

    def _wait_pid_written(self):
        """Until the pid file holds a pid: ``rabbitmqctl wait`` gives up at once (``garbage_in_pid_file``)
        when it reads the file between its creation and the write."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.process.returncode}")
            try:
                with open(self.pid_file) as f:
                    if f.read().strip().isdigit():
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.1)  # polling for a file the starting node writes, with a deadline
        raise RuntimeError(f"no pid in {self.pid_file} after {BOOT_TIMEOUT}s")

    def stop(self):
        """Stop the node by its pid (SIGTERM: a clean shutdown), waiting at most STOP_TIMEOUT s."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self._wait_port_closed()

    def _wait_port_closed(self):
        """After stop, the AMQP port refuses connections (so a restart can bind it)."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)  # polling a port the broker is still closing, with a deadline
        raise RuntimeError(f"RabbitMQ still listens on {self.port} after stop")

    def kill_epmd(self):
        """Stop the node's private epmd (started by Erlang on first boot)."""
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env,
                           capture_output=True, timeout=10)

    def server_pid(self):
        """The Erlang VM's pid, as the node wrote it, to read its CPU from /proc."""
        with open(self.pid_file) as f:
            return int(f.read().strip())

    def add_user(self, name, password, tags=""):
        """Create a user with full rights on vhost ``/``."""
        self.ctl("add_user", name, password)
        self.ctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        if tags:
            self.ctl("set_user_tags", name, tags)

    def url(self, user=NODE_USER):
        """The ``--amqp`` URL for ``user`` (a (name, password) pair)."""
        return f"amqp://{user[0]}:{user[1]}@127.0.0.1:{self.port}/%2f"

    def tls_url(self, user=NODE_USER, host="localhost"):
        """An ``amqps://`` URL to the TLS listener that trusts the node's CA; ``host`` is the name checked."""
        return f"amqps://{user[0]}:{user[1]}@{host}:{self.tls_port}/%2f?cafile={self.tls_ca}"

    def pika_parameters(self, user=SERVICE_USER):
        """pika connection parameters for ``user``."""
        import pika

        return pika.ConnectionParameters("127.0.0.1", self.port, "/", pika.PlainCredentials(*user),
                                         connection_attempts=1)
