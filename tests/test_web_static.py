"""What the web port serves: the page in Chromium (its assets load, the login screen works), and over raw
TCP only the page's own files, 4xx for malformed requests, and a /healthz that reveals no paths or hosts."""
import json

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, reactor
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.web.server import Site

from browser import PHONE, WEB_DIR, browsers, requires_browser  # noqa: F401  (browsers is a fixture)
from helpers import poll_until
from wampchat.web.page_files import PageResource

STORE_INDEPENDENT = True  # HTTP handling: one store is enough, except /healthz's database (see conftest)

@pytest.fixture
def static_site():
    """web/ served as wampchat serves it (only the page's own files) on 127.0.0.1:0, with no WAMP endpoint."""
    endpoint = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    port = pytest_twisted.blockon(endpoint.listen(Site(PageResource(str(WEB_DIR)))))
    yield f"http://127.0.0.1:{port.getHost().port}/"
    pytest_twisted.blockon(port.stopListening())


@pytest.mark.browser
@requires_browser
@pytest_twisted.ensureDeferred
async def test_page_loads_autobahn_and_shows_login(static_site, browsers):
    """The page loads AutobahnJS from web/node_modules (no CDN) and its modules, and offers guest and account login."""
    ann = await browsers("ann")
    await ann.open(static_site)
    await ann.wait_visible("#guest-nick")
    await ann.wait_visible("#account-username")
    assert await ann.js("return typeof autobahn.Connection;") == "function"
    assert await ann.js("return document.getElementById('chat-view').hidden;") is True


@pytest.mark.browser
@requires_browser
@pytest_twisted.ensureDeferred
async def test_rejects_nick_with_angle_brackets(static_site, browsers):
    """A nick the router would refuse is caught on the page with a message."""
    ann = await browsers("ann")
    await ann.open(static_site)
    await ann.fill("#guest-nick", "<b>ann</b>")
    await ann.click("#guest-form button[type=submit]")
    await ann.wait_text("#login-error", "cannot contain")


@pytest.mark.browser
@requires_browser
@pytest_twisted.ensureDeferred
async def test_shows_reconnecting_when_no_router_answers(static_site, browsers):
    """With nothing at /ws the chat view says it is reconnecting, and the guest nick survives a reload."""
    ann = await browsers("ann")
    await ann.open(static_site)
    await ann.fill("#guest-nick", "Ann")
    await ann.click("#guest-form button[type=submit]")
    await ann.wait_js("document.getElementById('conn-state').dataset.state === 'reconnecting'", "not reconnecting")
    await ann.wait_text("#conn-state", "Reconnecting")
    await ann.reload()
    await ann.wait_js("document.getElementById('conn-state').dataset.state === 'reconnecting'",
                      "the guest login was not remembered across the reload")
    assert "Ann" in await ann.js("return localStorage.getItem('wampchat.login');")


@pytest.mark.browser
@requires_browser
@pytest_twisted.ensureDeferred
async def test_phone_width_hides_sidebar_behind_a_button(static_site, browsers):
    """At phone width the rooms sidebar is hidden until the menu button opens it."""
    ann = await browsers("ann", size=PHONE)
    await ann.open(static_site)
    await ann.fill("#guest-nick", "Ann")
    await ann.click("#guest-form button[type=submit]")
    await ann.wait_visible("#toggle-sidebar")
    assert not await ann.is_visible("#sidebar")
    await ann.click("#toggle-sidebar")
    await ann.wait_visible("#sidebar")


# -- what the web port serves, over raw TCP -------------------------------------------------------------

PAGE_FILES = ["/", "/index.html", "/js/app.js", "/js/render.js", "/css/chat.css",
              "/node_modules/autobahn-browser/autobahn.min.js"]
NOT_THE_PAGE = [
    "/js/", "/css/", "/node_modules/", "/node_modules/autobahn-browser/", "/package.json", "/package-lock.json",
    "/screenshot.png", "/node_modules/autobahn-browser/package.json", "/node_modules/autobahn-browser/autobahn.js",
    "/node_modules/autobahn-browser/LICENSE", "/.git/config", "/.env", "/js/.hidden.js", "/js", "/css",
    "/index.html/", "/js/app.js/", "/js/../package.json", "/js/%2e%2e/package.json", "/%2e%2e/setup.py",
    "/js/..%2f..%2fsetup.py", "/..%5c..%5csetup.py",
]
MALFORMED = [
    b"GET /%00 HTTP/1.1", b"GET /js/app.js%00 HTTP/1.1", b"GET /%00/ HTTP/1.1", b"GET /js/%00 HTTP/1.1",
    b"GET /js/app.js%00.png HTTP/1.1", b"GET /%zz HTTP/1.1", b"GET /%e9 HTTP/1.1", b"GET /%ff%fe/%c0%af HTTP/1.1", b"GET /\xff\xfe HTTP/1.1",
    b"GET /%%%% HTTP/1.1", b"GET /js/%u2215app.js HTTP/1.1", b"GET /../../../etc/passwd HTTP/1.1",
    b"GET /js/../../setup.py HTTP/1.1", b"GET /..\\..\\setup.py HTTP/1.1", b"GET /js\\app.js HTTP/1.1",
    b"GET //etc/passwd HTTP/1.1", b"GET /./index.html/. HTTP/1.1", b"GET " + b"/a" * 3000 + b" HTTP/1.1",
    b"GET /" + b"x" * 20000 + b" HTTP/1.1", b"GET * HTTP/1.1", b"GET index.html HTTP/1.1",
    b"GET http://evil.example/ HTTP/1.1", b"GET /?%00=%ff&a=%zz HTTP/1.1", b"GET /js/app.js?\xff HTTP/1.1",
    b"POST / HTTP/1.1", b"PUT /js/app.js HTTP/1.1", b"DELETE /index.html HTTP/1.1", b"BREW / HTTP/1.1",
    b"OPTIONS * HTTP/1.1", b"TRACE / HTTP/1.1", b"G\x00T / HTTP/1.1", b"FOO /healthz HTTP/1.1",
    b"PATCH /metrics HTTP/1.1", b"GET / HTTP/9.9", b"GET /", b"GET / HTTP/1.1 extra",
]


class ErrorEvents:
    """A log observer keeping every event at level error or above, and every logged failure (traceback)."""

    def __init__(self) -> None:
        self.events: list = []

    def __call__(self, event: dict) -> None:
        if "log_failure" in event or event.get("log_level") in (LogLevel.error, LogLevel.critical):
            self.events.append(event)

    def texts(self) -> list:
        return [formatEvent(e) or repr(e.get("log_failure")) for e in self.events]


@pytest.fixture
def error_events():
    events = ErrorEvents()
    globalLogPublisher.addObserver(events)
    yield events
    globalLogPublisher.removeObserver(events)


@defer.inlineCallbacks
def raw_request(port: int, request_line: bytes, headers: bytes = b"Host: 127.0.0.1\r\nConnection: close\r\n"):
    """Send one request as raw bytes and return the whole answer once the server has closed the connection."""
    from test_connection_limits import open_tcp

    client = yield open_tcp(port, request_line + b"\r\n" + headers + b"\r\n")
    yield poll_until(lambda: client.lost.called, timeout=10)
    return client.received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("path", PAGE_FILES)
@pytest_twisted.inlineCallbacks
def test_the_page_and_what_it_loads_are_served(server, path):
    """index.html at /, its modules and stylesheet, and the one AutobahnJS file it loads are 200."""
    answer = yield raw_request(server.port, f"GET {path} HTTP/1.1".encode())
    assert status_of(answer) == 200, answer[:200]


@pytest_twisted.inlineCallbacks
def test_head_of_a_page_file_is_200(server):
    """HEAD is answered like GET, without a body."""
    answer = yield raw_request(server.port, b"HEAD /js/app.js HTTP/1.1")
    assert status_of(answer) == 200 and answer.endswith(b"\r\n\r\n")


@pytest.mark.parametrize("path", NOT_THE_PAGE)
@pytest_twisted.inlineCallbacks
def test_directories_dotfiles_and_development_files_are_404(server, error_events, path):
    """No directory listing, no npm bookkeeping, no other node_modules file, nothing outside web/: 404."""
    answer = yield raw_request(server.port, f"GET {path} HTTP/1.1".encode())
    assert status_of(answer) == 404, answer[:300]
    assert b"Directory listing" not in answer and b'"name"' not in answer
    assert error_events.texts() == []


@pytest.mark.parametrize("request_line", MALFORMED, ids=lambda line: repr(line[:40])[2:-1])
@pytest_twisted.inlineCallbacks
def test_malformed_requests_are_4xx_without_a_traceback(server, error_events, request_line):
    """NUL, bad or non-UTF-8 percent-encoding, traversal, backslashes, odd or overlong paths, odd methods:
    a 4xx answer and nothing logged at error level."""
    answer = yield raw_request(server.port, request_line)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:300]
    assert b"Traceback" not in answer and b"Processing Failed" not in answer
    assert error_events.texts() == []


@pytest_twisted.inlineCallbacks
def test_an_overlong_header_is_431_without_a_traceback(server, error_events):
    """A header line over twisted.web's 16 KiB line limit is answered 431, not a silently closed connection."""
    answer = yield raw_request(server.port, b"GET / HTTP/1.1", b"X-Long: " + b"a" * 20000 + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert error_events.texts() == []


@pytest_twisted.inlineCallbacks
def test_other_methods_are_405_with_allow(server):
    """A method other than GET or HEAD is 405 and says which are allowed."""
    answer = yield raw_request(server.port, b"POST /js/app.js HTTP/1.1", b"Content-Length: 0\r\nConnection: close\r\n")
    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 405") and b"\r\nAllow: GET, HEAD" in head


@pytest_twisted.inlineCallbacks
def test_pages_in_a_web_directory_and_what_they_reference(make_server, tmp_path):
    """In a --web of one's own, top-level .html pages and the files they load are served; the rest is not,
    and a page added while the server runs is served at once."""
    web = tmp_path / "site"
    (web / "lib").mkdir(parents=True)
    (web / "index.html").write_text('<script src="lib/used.js"></script><link rel="stylesheet" href="/top.css">')
    for name in ("lib/used.js", "lib/unused.js", "top.css", "notes.txt", "hello.js", ".secret.html"):
        (web / name).write_text("x")
    server = yield make_server(["--web", str(web)])
    expected = {"/": 200, "/lib/used.js": 200, "/top.css": 200, "/lib/unused.js": 404, "/notes.txt": 404,
                "/hello.html": 404, "/hello.js": 404, "/.secret.html": 404, "/lib/": 404}
    got = {}
    for path in expected:
        got[path] = status_of((yield raw_request(server.port, f"GET {path} HTTP/1.1".encode())))
    assert got == expected
    (web / "hello.html").write_text('<script src="hello.js"></script>')
    for path in ("/hello.html", "/hello.js"):
        assert status_of((yield raw_request(server.port, f"GET {path} HTTP/1.1".encode()))) == 200, path


# -- /healthz ---------------------------------------------------------------------------------------------

@defer.inlineCallbacks
def get_health(server):
    """(HTTP status, raw body, parsed JSON) of GET /healthz."""
    answer = yield raw_request(server.port, b"GET /healthz HTTP/1.1")
    body = answer.partition(b"\r\n\r\n")[2]
    return status_of(answer), body, json.loads(body)


@pytest_twisted.inlineCallbacks
def test_healthz_is_ok_and_shows_no_paths(server, tmp_path):
    """A healthy node: 200, status ok, the database engine and state, and no file path."""
    code, body, health = yield get_health(server)
    assert code == 200 and health["status"] == "ok" and health["database"]["state"] == "ok"
    assert health["database"]["engine"] in ("sqlite", "postgresql") and health["chat"]["state"] == "ready"
    assert str(tmp_path).encode() not in body and b"wampchat.sqlite" not in body
    assert b"127.0.0.1" not in body and b"localhost" not in body


def chat_database(server):
    return server.service.getServiceNamed("chat").store.database


@pytest_twisted.inlineCallbacks
def test_healthz_is_degraded_503_while_the_database_is_down(server, tmp_path):
    """The store reporting the database unavailable makes /healthz 503 "degraded", without the error's
    path or host; it is ok again once the database answers. (The store's report is replaced for the
    request: the node's own transactions, such as its presence heartbeat, would clear a set error.)"""
    database = chat_database(server)
    where = database.engine.describe()
    reported = server.router.health["database"]

    def unavailable():
        return dict(reported(), state="unavailable",
                    error=f"{where}: could not connect to server at 127.0.0.1 port 5432 ({tmp_path})")

    server.router.health["database"] = unavailable
    code, body, health = yield get_health(server)
    assert code == 503 and health["status"] == "degraded" and health["database"]["state"] == "unavailable"
    assert str(tmp_path).encode() not in body and b"127.0.0.1" not in body and where.encode() not in body
    server.router.health["database"] = reported
    code, _, health = yield get_health(server)
    assert code == 200 and health["status"] == "ok"


@pytest_twisted.inlineCallbacks
def test_healthz_is_degraded_503_while_the_broker_link_is_down(make_server):
    """With --amqp at a port where no broker listens the link is never up: 503 "degraded", and neither the
    broker's host, port nor user is shown."""
    from rabbitmq import free_port

    port = free_port()
    server = yield make_server(["--amqp", f"amqp://brokeruser:pw@127.0.0.1:{port}/", "--amqp-retry-max", "1"])
    code, body, health = yield get_health(server)
    assert code == 503 and health["status"] == "degraded"
    assert health["amqp"]["state"] in ("down", "connecting")
    for secret in (b"127.0.0.1", str(port).encode(), b"brokeruser", b"amqp://"):
        assert secret not in body, secret
