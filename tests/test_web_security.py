"""
HTTP security headers on every response of the web Site, and the page working under them in Chromium.
"""
import pytest
import pytest_twisted
from twisted.internet import defer, threads
from twisted.web.client import Agent

from helpers import poll_until, read_body
from browser import browsers, chat_service_missing, requires_browser  # noqa: F401  (browsers is a fixture)
from test_web_chat import CONNECTED, chat_server, join_as_guest, open_room, say  # noqa: F401  (a fixture)
from wampchat.web.requests import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

PATHS = ["/", "/index.html", "/js/app.js", "/css/chat.css", "/healthz", "/metrics", "/no-such-page", "/ws"]


@defer.inlineCallbacks
def fetch(url):
    from twisted.internet import reactor

    response = yield Agent(reactor).request(b"GET", url.encode("ascii"))
    body = yield read_body(response)
    return response, body


@pytest.mark.parametrize("path", PATHS)
@pytest_twisted.inlineCallbacks
def test_every_response_has_the_security_headers(server, path):
    """Static files, /healthz, /metrics, a 404 and a plain GET of /ws all carry CSP, nosniff, DENY, no-referrer."""
    response, _ = yield fetch(server.http_url + path)
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        assert headers.getRawHeaders(name) == [value], (path, name)
    csp = headers.getRawHeaders(b"content-security-policy")[0].decode()
    assert "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert b"Autobahn" not in b"".join(headers.getRawHeaders(b"server", [b""]))


@pytest_twisted.inlineCallbacks
def test_plain_get_of_the_websocket_endpoint_is_426(server):
    """A GET of /ws without an upgrade is 426 Upgrade Required with "Upgrade: websocket", from twisted.web."""
    from test_connection_limits import open_tcp  # raw bytes: twisted's Agent drops the hop-by-hop Upgrade header

    client = yield open_tcp(server.port, b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    yield poll_until(lambda: client.lost.called, timeout=10)
    head, _, body = client.received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nUpgrade: websocket" in head and b"X-Frame-Options: DENY" in head
    assert b"WAMP" in body


def test_the_policy_allows_no_inline_script():
    """script-src is only 'self' (no inline, no eval) and nothing else falls back to a wider default."""
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"


def test_the_page_has_no_inline_script_or_handlers():
    """index.html loads scripts only from files and has no on* attributes (the policy would block them)."""
    import re

    from browser import WEB_DIR

    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.findall(r"\son[a-z]+\s*=", html) == []
    assert re.findall(r"\sstyle\s*=", html) == []


CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
  `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.mark.browser
@requires_browser
@pytest.mark.skipif(chat_service_missing() is not None, reason=str(chat_service_missing()))
@pytest_twisted.ensureDeferred
async def test_page_works_under_the_policy(chat_server, browsers):
    """In Chromium a guest joins (WebSocket to the same origin), sends a message, and no CSP violation is reported."""
    ann = await browsers("ann")
    await threads.deferToThread(ann.driver.execute_cdp_cmd, "Page.addScriptToEvaluateOnNewDocument",
                                {"source": CSP_RECORDER})
    await join_as_guest(ann, chat_server, "Ann")
    await open_room(ann, "lobby")
    await say(ann, "hello under a strict policy")
    assert await ann.js("return window.__cspViolations;") == []
    log = await ann.console_log()
    assert [e for e in log if "Content Security Policy" in e.get("message", "")] == []
    assert await ann.js("return document.querySelector('meta[http-equiv]') === null;")  # the header, not a meta tag
