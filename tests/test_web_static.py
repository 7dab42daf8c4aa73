"""The page on its own, served by a bare twisted.web server: assets load and the login screen works."""
import pytest
import pytest_twisted
from twisted.internet import endpoints, reactor
from twisted.web.server import Site
from twisted.web.static import File

from browser import PHONE, WEB_DIR, browsers, requires_browser  # noqa: F401  (browsers is a fixture)

pytestmark = [pytest.mark.browser, requires_browser]


@pytest.fixture
def static_site():
    """web/ served as static files on 127.0.0.1:0, with no WAMP endpoint behind it."""
    endpoint = endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
    port = pytest_twisted.blockon(endpoint.listen(Site(File(str(WEB_DIR)))))
    yield f"http://127.0.0.1:{port.getHost().port}/"
    pytest_twisted.blockon(port.stopListening())


@pytest_twisted.ensureDeferred
async def test_page_loads_autobahn_and_shows_login(static_site, browsers):
    """The page loads AutobahnJS from web/node_modules (no CDN) and its modules, and offers guest and account login."""
    ann = await browsers("ann")
    await ann.open(static_site)
    await ann.wait_visible("#guest-nick")
    await ann.wait_visible("#account-username")
    assert await ann.js("return typeof autobahn.Connection;") == "function"
    assert await ann.js("return document.getElementById('chat-view').hidden;") is True


@pytest_twisted.ensureDeferred
async def test_rejects_nick_with_angle_brackets(static_site, browsers):
    """A nick the router would refuse is caught on the page with a message."""
    ann = await browsers("ann")
    await ann.open(static_site)
    await ann.fill("#guest-nick", "<b>ann</b>")
    await ann.click("#guest-form button[type=submit]")
    await ann.wait_text("#login-error", "cannot contain")


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
