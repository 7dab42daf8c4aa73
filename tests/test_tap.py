"""``twistd wampchat``: option checking, the service tree makeService builds, and /healthz and /metrics over HTTP."""
import json

import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer
from twisted.python import usage
from twisted.web.client import Agent, readBody

from wampchat.listening import ListeningService
from wampchat.router.credentials import make_credentials
from wampchat.tap import DEFAULT_LISTEN, Options, makeService
from wampchat.testing import connect, start_server

LOCAL = "tcp:0:interface=127.0.0.1"
# Twisted's own Agent transport trips this deprecation inside readBody; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:Using readBody with a transport:DeprecationWarning")


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
    """--help mentions every option."""
    text = str(Options())
    for name in ("--listen", "--rawsocket", "--realm", "--config", "--web", "--no-guests",
                 "--max-message-size", "--outbound-buffer", "--max-subscriptions", "--max-registrations",
                 "--max-calls-in-flight"):
        assert name in text


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
    body = yield readBody(response)
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
