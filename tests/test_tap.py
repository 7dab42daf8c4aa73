"""``twistd wampchat``: option checking, --config-file, the service tree makeService builds, /healthz and /metrics."""
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer
from twisted.python import usage
from twisted.web.client import Agent

from helpers import read_body
from wampchat.listening import ListeningService
from wampchat.router.credentials import make_credentials
from wampchat.settings import SETTINGS
from wampchat.tap import DEFAULT_LISTEN, Options, makeService
from wampchat.testing import connect, start_server

LOCAL = "tcp:0:interface=127.0.0.1"


def parse(*args):
    options = Options()
    options.parseOptions(list(args))
    return options


# -- options ------------------------------------------------------------------------------------

def test_defaults():
    """With no arguments wampchat listens on 127.0.0.1:8080, has no RawSocket and realm wampchat."""
    options = parse()
    assert options["listen"] == [DEFAULT_LISTEN] == ["tcp:8080:interface=127.0.0.1"]
    assert options["rawsocket"] == []
    assert options["realm"] == "wampchat"
    config = options["router_config"]
    assert config.realm == "wampchat" and config.allow_guests is True
    assert config.max_message_size > 0 and config.outbound_buffer > 0
    assert (config.max_subscriptions, config.max_registrations, config.max_calls_in_flight) == (1000, 100, 1000)


def test_help_documents_every_option():
    """--help lists every setting once, each with its config-file line, and --config-file itself."""
    text = " ".join(str(Options()).split())  # usage wraps lines; compare with single spaces
    for setting in SETTINGS:
        assert text.count(f"{setting.option}=" if setting.kind != "flag" else f"{setting.option} ") == 1, setting
        # usage may break a long word after a hyphen ("max-calls-in- flight"); undo that for the check
        assert f"[file: {setting.example}]" in text.replace("- ", "-"), setting.name
    assert "--config-file=" in text and "--config=" in text


def test_help_points_at_guides_that_hold_the_section_named():
    """A pointer in --help such as "(format: docs/security.md, Authorization and the config file)" names a guide
    of the project and a heading that guide has, so a user who follows it finds the section."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pointers = [(s.name, m) for s in SETTINGS for m in re.finditer(r"\((?:format|see): ([^,()]+), ([^()]+)\)", s.help)]
    assert pointers, "the --config help points at the roles file's format"
    for name, match in pointers:
        guide, heading = os.path.join(root, match.group(1)), match.group(2)
        assert os.path.isfile(guide), (name, match.group(1))
        with open(guide, encoding="utf-8") as f:
            headings = [line.lstrip("#").strip() for line in f if line.startswith("#")]
        assert heading in headings, (name, heading)


def test_plugin_is_discoverable():
    """twistd finds the wampchat ServiceMaker, which points at wampchat.tap."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
    assert makers["wampchat"].module == "wampchat.tap"


@pytest.mark.parametrize("args", [
    ["--listen", "nonsense:8080"],
    ["--listen", "tcp:notaport"],
    ["--listen", LOCAL, "--listen", "unix"],
    ["--rawsocket", "tcp:eighty"],
    ["--rawsocket", "bogus:1"],
], ids=["listen-type", "listen-port", "second-listen", "rawsocket-port", "rawsocket-type"])
def test_bad_endpoints_are_usage_errors(args):
    """An endpoint string Twisted cannot parse fails with UsageError naming the option."""
    with pytest.raises(usage.UsageError) as info:
        parse(*args)
    assert "--listen" in str(info.value) or "--rawsocket" in str(info.value)


@pytest.mark.parametrize("args", [
    ["--max-message-size", "0"],
    ["--max-message-size", "-1"],
    ["--max-message-size", "lots"],
    ["--outbound-buffer", "0"],
    ["--outbound-buffer", "1.5"],
])
def test_bad_sizes_are_usage_errors(args):
    """Sizes must be positive integers."""
    with pytest.raises(usage.UsageError):
        parse(*args)


def test_session_limits_reach_the_router_config():
    """--max-subscriptions, --max-registrations and --max-calls-in-flight set the router's per-session limits."""
    options = parse("--max-subscriptions", "5", "--max-registrations", "6", "--max-calls-in-flight", "7")
    config = options["router_config"]
    assert (config.max_subscriptions, config.max_registrations, config.max_calls_in_flight) == (5, 6, 7)
    limits = config.session_limits()
    assert (limits.subscriptions, limits.registrations, limits.calls_in_flight) == (5, 6, 7)


@pytest.mark.parametrize("option", ["--max-subscriptions", "--max-registrations", "--max-calls-in-flight"])
@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_bad_session_limits_are_usage_errors(option, value):
    """A per-session limit must be a positive whole number; anything else is a UsageError naming the option."""
    with pytest.raises(usage.UsageError) as info:
        parse(option, value)
    assert option.lstrip("-") in str(info.value)


@pytest.mark.parametrize("content,why", [
    (None, "cannot read"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"roles": []}', "roles"),
    ('{"roles": {"guest": {"permissions": [{"uri": "app.", "match": "fuzzy", "allow": ["call"]}]}}}', "match"),
    ('{"roles": {"guest": {"permissions": [{"uri": "app.", "allow": ["dance"]}]}}}', "allow"),
    ('{"roles": {"guest": {"permissions": [{"allow": ["call"]}]}}}', "uri"),
    ('{"users": {"alice": 1}}', "users"),
    ('{"users": [{"authid": "alice"}]}', "users[0]"),
], ids=["missing", "bad-json", "not-object", "roles-list", "bad-match", "bad-action", "no-uri",
        "users-dict", "user-fields"])
def test_bad_config_files_are_usage_errors(tmp_path, content, why):
    """An unreadable or invalid --config file fails with a UsageError that says what is wrong."""
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(usage.UsageError) as info:
        parse("--config", str(path))
    assert why in str(info.value)


def test_config_file_is_loaded(tmp_path):
    """A valid config file sets guests, roles and users on the router config."""
    alice = make_credentials("alice", "pw", "user").__dict__
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "allow_guests": False,
        "roles": {"guest": {"permissions": [{"uri": "app.ro.", "match": "prefix", "allow": ["subscribe"]}]}},
        "users": [alice],
    }))
    config = parse("--config", str(path), "--realm", "r1")["router_config"]
    assert config.realm == "r1"
    assert config.allow_guests is False
    assert config.roles["guest"]["permissions"] == [{"uri": "app.ro.", "match": "prefix", "allow": ["subscribe"]}]
    assert "user" in config.roles  # roles the file does not name keep their defaults
    assert [u.authid for u in config.users] == ["alice"]


def test_no_guests_flag():
    """--no-guests turns guests off even when a config file would allow them."""
    assert parse("--no-guests")["router_config"].allow_guests is False


# -- --config-file (TOML) ----------------------------------------------------------------------

def write_toml(tmp_path, text, name="wampchat.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


EVERY_SETTING_TOML = """
listen = ["tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1:backlog=9"]
rawsocket = ["tcp:0:interface=127.0.0.1"]
realm = "filerealm"
web = "/srv/page"
no-guests = true
guest-rate = 13
login-address-burst = 14
login-address-refill = 15
login-account-burst = 16
login-account-refill = 17.5
max-message-size = 2000
outbound-buffer = 3000
max-subscriptions = 4
max-registrations = 5
max-calls-in-flight = 6
max-connections-per-address = 0
handshake-timeout = 3
trusted-proxy = ["10.0.0.0/8", "::1"]
event-history = ["app.news:100", "app.feed.:50"]
proxy-protocol = true
db = "DBPATH"
no-open-registration = true
send-rate = 7
guest-send-rate = 18
dm-rate = 19
dm-address-rate = 21
retention-days = 22
max-upload = 23
upload-quota = 24
link-previews = true
register-rate = 11
create-rate = 12
node-id = "filenode"
node-heartbeat = 2
node-timeout = 9.5
amqp = "amqp://n:p@broker.example:5673/chat"
amqp-exchange = "rooms"
amqp-node-users = "n2, n3"
amqp-outbox = 8
amqp-retry-max = 1.5
"""


def test_config_file_sets_every_setting(tmp_path):
    """A TOML file can set every setting but config (its own test), each under its option's name."""
    db = str(tmp_path / "file.sqlite")
    options = parse("--config-file", write_toml(tmp_path, EVERY_SETTING_TOML.replace("DBPATH", db)))
    assert options["listen"] == ["tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1:backlog=9"]
    assert options["router_config"].event_history == [("app.news", 100), ("app.feed.", 50)]
    assert options["rawsocket"] == ["tcp:0:interface=127.0.0.1"]
    assert (options["realm"], options["web"], options["db"]) == ("filerealm", "/srv/page", db)
    assert options["no-guests"] is True and options["no-open-registration"] is True
    assert (options["max-message-size"], options["outbound-buffer"], options["send-rate"]) == (2000, 3000, 7)
    assert (options["node-id"], options["node-heartbeat"], options["node-timeout"]) == ("filenode", 2.0, 9.5)
    assert (options["max-connections-per-address"], options["handshake-timeout"]) == (0, 3.0)
    assert (options["register-rate"], options["create-rate"]) == (11, 12)
    assert (options["guest-send-rate"], options["dm-rate"], options["dm-address-rate"]) == (18, 19, 21)
    assert options["retention-days"] == 22
    assert (options["max-upload"], options["upload-quota"]) == (23, 24)
    assert (options["trusted-proxy"], options["proxy-protocol"]) == (["10.0.0.0/8", "::1"], True)
    assert options["link-previews"] is True
    assert (options["guest-rate"], options["login-address-burst"], options["login-address-refill"],
            options["login-account-burst"], options["login-account-refill"]) == (13, 14, 15.0, 16, 17.5)
    config = options["router_config"]
    assert (config.realm, config.allow_guests, config.max_message_size, config.outbound_buffer) == \
        ("filerealm", False, 2000, 3000)
    assert (config.max_subscriptions, config.max_registrations, config.max_calls_in_flight) == (4, 5, 6)
    amqp = options["amqp_settings"]
    assert (amqp.url.host, amqp.url.port, amqp.url.vhost, amqp.exchange, amqp.outbox, amqp.retry_max) == \
        ("broker.example", 5673, "chat", "rooms", 8, 1.5)
    assert amqp.node_users == {"n", "n2", "n3"} and amqp.node_id == "filenode"
    # every setting in the file was one the test meant to set, and it covered all of them but config
    assert set(options.from_file) == {s.name for s in SETTINGS} - {"config"}


def test_the_command_line_wins_over_the_file(tmp_path):
    """An option on the command line overrides the file's key; a repeatable one replaces the file's whole list."""
    path = write_toml(tmp_path, 'realm = "fromfile"\nsend-rate = 3\nlisten = ["tcp:0:interface=127.0.0.1"]\n'
                                'max-subscriptions = 4\n')
    options = parse("--config-file", path, "--realm", "fromcli", "--listen", "tcp:0:interface=127.0.0.1:backlog=2",
                    "--send-rate", "11")
    assert (options["realm"], options["send-rate"]) == ("fromcli", 11)
    assert options["listen"] == ["tcp:0:interface=127.0.0.1:backlog=2"]
    assert options["max-subscriptions"] == 4          # not on the command line: the file's value
    assert options["max-registrations"] == 100        # in neither: the default
    assert set(options.from_file) == {"max-subscriptions"}


def test_config_file_flags_can_be_false(tmp_path):
    """no-guests = false in the file leaves guests allowed; --no-guests on the command line still turns them off."""
    path = write_toml(tmp_path, "no-guests = false\n")
    assert parse("--config-file", path)["router_config"].allow_guests is True
    assert parse("--config-file", path, "--no-guests")["router_config"].allow_guests is False


def test_config_file_points_at_the_roles_json(tmp_path):
    """The file's config key names the JSON roles/users file, which is loaded as --config would load it."""
    (tmp_path / "roles.json").write_text(json.dumps(
        {"allow_guests": False, "roles": {"guest": {"permissions": [{"uri": "app.x.", "match": "prefix",
                                                                     "allow": ["call"]}]}}}))
    options = parse("--config-file", write_toml(tmp_path, f'config = "{tmp_path / "roles.json"}"\n'))
    config = options["router_config"]
    assert config.allow_guests is False
    assert config.roles["guest"]["permissions"] == [{"uri": "app.x.", "match": "prefix", "allow": ["call"]}]


@pytest.mark.parametrize("content,expected", [
    ('lissten = ["tcp:0"]', "unknown key 'lissten' (did you mean listen?)"),
    ('colour = "blue"', "unknown key 'colour' (the keys are the long options"),
    ('config-file = "other.toml"', "unknown key 'config-file' (a config file cannot name another one"),
    ("[amqp]\nurl = 'amqp://x'", "amqp must be a string"),
    ('max-subscriptions = "5"', "max-subscriptions must be a whole number (e.g. max-subscriptions = 1000), not '5'"),
    ("max-subscriptions = 0", "max-subscriptions must be a positive whole number, not 0"),
    ("max-message-size = true", "max-message-size must be a whole number"),
    ("max-calls-in-flight = 2.5", "max-calls-in-flight must be a whole number"),
    ("node-heartbeat = -1", "node-heartbeat must be a positive number of seconds"),
    ("max-connections-per-address = -1", "max-connections-per-address must be 0 (no limit) or a positive whole"),
    ("node-heartbeat = 10\nnode-timeout = 5", "node-timeout (5.0) must be longer than node-heartbeat (10.0)"),
    ('no-guests = "yes"', "no-guests must be true or false"),
    ('listen = "tcp:8080"', "listen must be an array of strings"),
    ("rawsocket = [8081]", "rawsocket must be an array of strings"),
    ('listen = ["nonsense:8080"]', "listen 'nonsense:8080' is not a valid Twisted server endpoint"),
    ('node-id = "Node One"', "node-id must be 1..16 characters of a-z and 0-9"),
    ('db = "mysql://x@localhost/db"', "db mysql://...: only postgresql:// URLs and SQLite file paths"),
    ('amqp = "http://broker"', "amqp: an AMQP URL starts with amqp:// or amqps://"),
    ('amqp = "amqp://broker"\namqp-exchange = "no spaces"', "amqp-exchange must be 1..200 of letters"),
    ('config = "/nonexistent/roles.json"', "config: cannot read"),
    ("realm = ", "not valid TOML"),
    ('trusted-proxy = ["10.0.0.0/33"]', "trusted-proxy: '10.0.0.0/33' is not an IP network"),
    ('event-history = ["app.news"]', "event-history: 'app.news': an event history rule is URI:N"),
], ids=["typo", "unknown", "config-file", "table", "int-as-string", "zero", "bool-as-int", "float-as-int",
        "negative-seconds", "negative-connections", "timeout-not-longer", "flag-as-string", "listen-string", "rawsocket-ints",
        "bad-endpoint", "bad-node-id", "bad-db-scheme", "bad-amqp-url", "bad-exchange", "missing-json",
        "bad-toml", "bad-trusted-proxy", "bad-event-history"])
def test_bad_config_file_values_are_one_line_usage_errors(tmp_path, content, expected):
    """Every bad key or value in the file is a one-line UsageError that names the file and the key."""
    path = write_toml(tmp_path, content + "\n")
    with pytest.raises(usage.UsageError) as info:
        parse("--config-file", path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message, message


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    """--config-file naming no file says it cannot read it."""
    with pytest.raises(usage.UsageError) as info:
        parse("--config-file", str(tmp_path / "nope.toml"))
    assert str(info.value) == f"--config-file {tmp_path / 'nope.toml'}: cannot read it: No such file or directory"


def test_command_line_errors_still_name_the_option(tmp_path):
    """A bad value on the command line is named as --option even when a config file is given."""
    path = write_toml(tmp_path, "max-subscriptions = 5\n")
    with pytest.raises(usage.UsageError) as info:
        parse("--config-file", path, "--node-id", "BAD")
    assert str(info.value) == "--node-id must be 1..16 characters of a-z and 0-9"
    with pytest.raises(usage.UsageError) as info:
        parse("--max-message-size", "lots")
    assert str(info.value) == "--max-message-size must be a positive whole number of bytes, not 'lots'"


def test_readme_lists_every_setting_once_with_its_file_key():
    """The running guide's settings table (docs/running.md) has one row per setting (and --config-file), with the
    TOML key beside the option."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "running.md").read_text()
    rows = re.findall(r"^\| `--([a-z-]+)[^`]*` \| ([^|]*) \|", readme, flags=re.M)
    names = [name for name, _ in rows]
    expected = [s.name for s in SETTINGS]
    assert sorted(n for n in names if n != "config-file") == sorted(expected)  # each exactly once
    assert names.count("config-file") == 1
    for name, key in rows:
        if name != "config-file":
            assert key.strip().startswith(f"`{name} = "), (name, key)


TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


@pytest_twisted.ensureDeferred
async def test_twistd_starts_from_a_config_file(tmp_path):
    """`twistd -n wampchat --config-file F` serves what F says: its port, realm and database, no options needed."""
    from helpers import poll_until

    db = tmp_path / "from-file.sqlite"
    path = write_toml(tmp_path, f'listen = ["tcp:0:interface=127.0.0.1"]\nrealm = "tomlrealm"\ndb = "{db}"\n'
                                'no-open-registration = true\n')
    log_path = tmp_path / "twistd.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([TWISTD, "-n", "--pidfile=", "--logfile=-", "wampchat", "--config-file", path],
                                cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        port = []

        def listening():
            assert proc.poll() is None, f"twistd exited {proc.returncode}: {log_path.read_text()}"
            found = re.search(r"listening on tcp:0:interface=127\.0\.0\.1 \(.*port=(\d+)\)", log_path.read_text())
            if found:
                port.append(int(found.group(1)))
            return bool(port)

        await poll_until(listening, timeout=30)
        health = {}

        async def chat_ready():
            code, _, body = await http_get(f"http://127.0.0.1:{port[0]}/healthz")
            health.update(json.loads(body), code=code)
            return health["chat"]["state"] == "ready"

        await poll_until(chat_ready, timeout=30)  # the chat service opens its database after the port listens
        assert health["code"] == 200 and health["status"] == "ok" and health["chat"]["state"] == "ready"
        session = await connect(f"ws://127.0.0.1:{port[0]}/ws", realm="tomlrealm")
        try:
            assert session.details.realm == "tomlrealm"
            with pytest.raises(ApplicationError) as info:  # no-open-registration = true
                await session.call("chat.user.register", "ann", "a long password")
            assert info.value.error == "wampchat.error.forbidden"
            sent = await session.call("chat.message.send", "lobby", "from a toml-configured node")
            assert sent["text"] == "from a toml-configured node"
        finally:
            session.leave()
        assert db.exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM), log_path.read_text()


def test_twistd_refuses_a_bad_config_file_with_the_key_on_the_last_line(tmp_path):
    """twistd with an unknown key exits 1 without a traceback; its last line names the file and the key."""
    path = write_toml(tmp_path, 'listen = ["tcp:0:interface=127.0.0.1"]\nmax_subscriptions = 5\n')
    result = subprocess.run([TWISTD, "-n", "--pidfile=", "wampchat", "--config-file", path], capture_output=True,
                            text=True, timeout=60, cwd=str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.endswith(f"{path}: unknown key 'max_subscriptions' (did you mean max-subscriptions?)"), output


# -- the service tree ---------------------------------------------------------------------------

def test_make_service_tree():
    """makeService builds one web listener per --listen and one RawSocket listener per --rawsocket."""
    options = parse("--listen", LOCAL, "--listen", "tcp:0:interface=127.0.0.1:backlog=5",
                    "--rawsocket", LOCAL, "--rawsocket", "tcp:0:interface=127.0.0.1:backlog=7")
    root = makeService(options)
    children = list(root)
    web = [c for c in children if c.name.startswith("web:")]
    raw = [c for c in children if c.name.startswith("rawsocket:")]
    assert [c.description for c in web] == options["listen"]
    assert [c.description for c in raw] == options["rawsocket"]
    assert all(isinstance(c, ListeningService) for c in web + raw)
    assert web[0].factory is web[1].factory        # one Site serves every --listen
    assert raw[0].factory is raw[1].factory
    assert root.router.get_realm("wampchat") is not None
    assert not root.running


def test_make_service_without_rawsocket():
    """Without --rawsocket there is no RawSocket listener."""
    root = makeService(parse("--listen", LOCAL))
    assert [c.name for c in root if c.name.startswith("rawsocket:")] == []


@pytest_twisted.inlineCallbacks
def test_every_listener_serves(tmp_path, make_server):
    """Each --listen port serves the page, /healthz and WAMP; the RawSocket port serves WAMP."""
    (tmp_path / "index.html").write_text("<h1>wampchat test page</h1>")
    srv = yield make_server(["--listen", LOCAL, "--listen", "tcp:0:interface=127.0.0.1:backlog=5",
                             "--rawsocket", LOCAL, "--web", str(tmp_path)])
    ports = [c.port.getHost().port for c in srv.service if c.name.startswith("web:")]
    assert len(set(ports)) == 2
    for port in ports:
        code, _, body = yield http_get(f"http://127.0.0.1:{port}/")
        assert code == 200 and b"wampchat test page" in body
        code, _, body = yield http_get(f"http://127.0.0.1:{port}/healthz")
        assert code == 200 and json.loads(body)["status"] == "ok"
        session = yield connect(f"ws://127.0.0.1:{port}/ws")
        yield session.leave()
    session = yield connect(None, rawsocket_port=srv.rawsocket_port, serializer="cbor")
    assert session.details.realm == "wampchat"
    yield session.leave()


@pytest_twisted.inlineCallbacks
def test_stop_says_goodbye(tmp_path):
    """Stopping the service sends GOODBYE (system_shutdown) to joined sessions and closes the ports."""
    srv = yield start_server([], tmp_path)
    session = yield connect(srv.ws_url)
    port = srv.port
    yield srv.stop()
    details = yield session.left
    assert details.reason == "wamp.close.system_shutdown"
    with pytest.raises(Exception):
        yield connect(f"ws://127.0.0.1:{port}/ws")


# -- HTTP: /healthz and /metrics ----------------------------------------------------------------

@defer.inlineCallbacks
def http_get(url):
    """GET ``url`` with twisted.web's Agent; Deferred of (code, headers, body)."""
    from twisted.internet import reactor

    response = yield Agent(reactor).request(b"GET", url.encode())
    body = yield read_body(response)
    return response.code, response.headers, body


@pytest_twisted.inlineCallbacks
def test_healthz(server, clients):
    """GET /healthz is JSON with status ok and the number of joined sessions."""
    code, headers, body = yield http_get(server.http_url + "/healthz")
    assert code == 200
    assert headers.getRawHeaders(b"content-type") == [b"application/json"]
    assert json.loads(body)["sessions"] == 0
    yield clients(server.ws_url)
    yield clients(server.ws_url, serializer="msgpack")
    _, _, body = yield http_get(server.http_url + "/healthz")
    health = json.loads(body)
    assert health["status"] == "ok" and health["sessions"] == 2


def parse_metrics(text):
    """Prometheus text -> {sample: value}, checking every family has HELP and a TYPE.

    Labelled samples are keyed like ``name{le="0.5"}``. The parser is
    prometheus_client's, so text it cannot read fails the test.
    """
    from prometheus_client.parser import text_string_to_metric_families

    values = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, f"{family.name} has no HELP"
        assert family.type in ("counter", "gauge", "histogram"), f"{family.name} has TYPE {family.type}"
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


@pytest_twisted.inlineCallbacks
def test_metrics(server, clients):
    """GET /metrics is Prometheus text whose sessions, messages, publications, calls and errors move."""
    code, headers, body = yield http_get(server.http_url + "/metrics")
    assert code == 200
    assert headers.getRawHeaders(b"content-type")[0].startswith(b"text/plain; version=0.0.4")
    before = parse_metrics(body.decode())
    for name in ("wampchat_sessions", "wampchat_messages_in_total", "wampchat_messages_out_total",
                 "wampchat_publications_total", "wampchat_calls_total", "wampchat_errors_total"):
        assert name in before

    a = yield clients(server.ws_url)
    b = yield clients(server.ws_url, serializer="cbor")
    yield b.subscribe(lambda *_: None, "app.m.t")
    yield a.publish("app.m.t", 1, options=PublishOptions(acknowledge=True))
    yield b.register(lambda: 1, "app.m.p")
    yield a.call("app.m.p")
    with pytest.raises(Exception):
        yield a.call("app.m.nobody")

    _, _, body = yield http_get(server.http_url + "/metrics")
    after = parse_metrics(body.decode())
    assert after["wampchat_sessions"] == 2
    assert after["wampchat_publications_total"] == before["wampchat_publications_total"] + 1
    assert after["wampchat_calls_total"] == before["wampchat_calls_total"] + 2
    assert after["wampchat_errors_total"] >= before["wampchat_errors_total"] + 1
    assert after["wampchat_messages_in_total"] >= before["wampchat_messages_in_total"] + 8
    assert after["wampchat_messages_out_total"] >= before["wampchat_messages_out_total"] + 8
    assert after["wampchat_subscriptions"] == before["wampchat_subscriptions"] + 1
    assert after["wampchat_registrations"] == before["wampchat_registrations"] + 1
    # one routed call answered (app.m.nobody is answered by the router, not timed)
    assert after["wampchat_call_duration_seconds_count"] == before["wampchat_call_duration_seconds_count"] + 1
    assert after['wampchat_call_duration_seconds_bucket{le="+Inf"}'] == after["wampchat_call_duration_seconds_count"]
    assert after["process_resident_memory_bytes"] > 1e6 and after["process_open_fds"] > 3
    assert "process_cpu_seconds_total" in after
