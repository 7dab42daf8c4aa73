"""
Real headless Chromium for the page tests (Debian's ``chromium`` + ``chromium-driver``).

pytest-twisted runs the reactor (and so the wampchat server under test) in
this same thread, so every WebDriver call here runs in a worker thread and
hands back a Deferred the test awaits: the server keeps serving the browser
while Selenium blocks. Waiting is always polling with a deadline,
never sleeping.
"""
import functools
import os
import pathlib
import shutil

import pytest
import pytest_twisted
from twisted.internet import defer, threads

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
REPO = pathlib.Path(__file__).resolve().parent.parent
WEB_DIR = REPO / "web"
ARTIFACTS = REPO / "test-artifacts"
DEFAULT_TIMEOUT = 15.0
DESKTOP = (1280, 800)
PHONE = (390, 844)


def browser_unavailable():
    """Why the browser tests cannot run here, or None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: run `make test` (it installs Debian's chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: run `make test` (it installs the '.[test]' extra)"
    if not (WEB_DIR / "node_modules" / "autobahn-browser" / "autobahn.min.js").exists():
        return "web/node_modules is missing: run `make web-deps` (npm ci in web/)"
    return None


def chat_service_missing():
    """Why the server has no chat service to talk to yet, or None once wampchat.chat.service exists."""
    if not (REPO / "wampchat" / "chat" / "service.py").exists():
        return ("the chat service (wampchat/chat/service.py) has not landed yet; "
                "these tests run as soon as it does, with `make test`")
    return None


requires_browser = pytest.mark.skipif(browser_unavailable() is not None,
                                      reason=str(browser_unavailable()))


def in_worker_thread(method):
    """Make a blocking WebDriver method return a Deferred, running it in a worker thread."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return threads.deferToThread(method, self, *args, **kwargs)

    return run


class Browser:
    """One Chromium profile (its own cookies and storage) showing one page.

    Every public method returns a Deferred (tests ``await`` them); the
    blocking WebDriver work happens in a worker thread.
    """

    def __init__(self, name, profile_dir, driver):
        self.name = name
        self.profile_dir = profile_dir
        self.driver = driver

    @classmethod
    def start(cls, name, profile_dir, size=DESKTOP, flags=()):
        """A Deferred of a Browser once its Chromium is up; ``flags`` are added to CHROMIUM_FLAGS."""
        return threads.deferToThread(lambda: cls(name, profile_dir, start_chromium(profile_dir, size, flags)))

    @in_worker_thread
    def quit(self):
        self.driver.quit()

    # -- navigation and scripts

    @in_worker_thread
    def open(self, url):
        self.driver.get(url)

    @in_worker_thread
    def before_every_page(self, script):
        """Run ``script`` in every page this browser loads from now on, before the page's own scripts (CDP)."""
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})

    @in_worker_thread
    def reload(self):
        self.driver.refresh()

    @in_worker_thread
    def js(self, script, *args):
        """Run JavaScript in the page (``return ...`` gives a value back)."""
        return self.driver.execute_script(script, *args)

    @in_worker_thread
    def js_async(self, script, *args, timeout=DEFAULT_TIMEOUT):
        """Run asynchronous JavaScript: it calls ``arguments[arguments.length - 1](value)`` to answer."""
        self.driver.set_script_timeout(timeout)
        return self.driver.execute_async_script(script, *args)

    @in_worker_thread
    def active_element(self):
        """What has the keyboard focus: (tag, id, class, data-action, text) of document.activeElement."""
        return self.driver.execute_script(
            "const e = document.activeElement;"
            "return e ? [e.tagName.toLowerCase(), e.id, e.className, e.dataset.action || '', e.textContent] : null;")

    @in_worker_thread
    def keys(self, *keys, shift=False):
        """Press keys on whatever has the focus now, as a keyboard-only user does (holding Shift if asked)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        chain = ActionChains(self.driver)
        if shift:
            chain.key_down(Keys.SHIFT)
        chain.send_keys(*keys)
        if shift:
            chain.key_up(Keys.SHIFT)
        chain.perform()

    @in_worker_thread
    def hover(self, css, timeout=DEFAULT_TIMEOUT):
        """Move the mouse over a visible element (a message: its actions toolbar shows)."""
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).move_to_element(self._visible(css, timeout)).perform()

    @in_worker_thread
    def cdp(self, command, params=None):
        """A Chrome DevTools Protocol command (Emulation.setEmulatedMedia, Browser.grantPermissions, …)."""
        return self.driver.execute_cdp_cmd(command, params or {})

    @in_worker_thread
    def set_size(self, width, height):
        self.driver.set_window_size(width, height)

    @in_worker_thread
    def console_log(self):
        """The page's console messages so far (for failure reports)."""
        return self.driver.get_log("browser")

    @in_worker_thread
    def screenshot(self, path):
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    # -- waiting (polling with a deadline)

    def _wait(self, condition, message, timeout):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException,)).until(
            condition, f"{self.name}: {message} (after {timeout}s)")

    def _wait_js(self, expression, message, args, timeout):
        return self._wait(lambda d: d.execute_script(f"return ({expression});", *args), message, timeout)

    def _visible(self, css, timeout):
        from selenium.webdriver.common.by import By

        def visible(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed():
                    return element
            return False

        return self._wait(visible, f"{css} is not visible", timeout)

    @in_worker_thread
    def wait_js(self, expression, message, *args, timeout=DEFAULT_TIMEOUT):
        """Poll a JavaScript expression (``arguments`` are ``args``) until it is truthy; give its value."""
        return self._wait_js(expression, message, args, timeout)

    @in_worker_thread
    def wait_visible(self, css, timeout=DEFAULT_TIMEOUT):
        """Wait until an element matching ``css`` is displayed."""
        self._visible(css, timeout)

    @in_worker_thread
    def wait_text(self, css, text, timeout=DEFAULT_TIMEOUT):
        """Wait until an element matching ``css`` contains ``text``; give that element's text."""
        return self._wait_js(
            "[...document.querySelectorAll(arguments[0])].map(e => e.textContent)"
            ".find(t => t.includes(arguments[1]))",
            f"no {css} contains {text!r}", (css, text), timeout)

    @in_worker_thread
    def wait_no_text(self, css, text, timeout=DEFAULT_TIMEOUT):
        """Wait until no element matching ``css`` contains ``text``."""
        return self._wait_js(
            "![...document.querySelectorAll(arguments[0])].some(e => e.textContent.includes(arguments[1]))",
            f"some {css} still contains {text!r}", (css, text), timeout)

    @in_worker_thread
    def texts(self, css):
        """The textContent of every element matching ``css``."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", css)

    @in_worker_thread
    def is_visible(self, css):
        """Whether some element matching ``css`` is displayed right now."""
        from selenium.webdriver.common.by import By

        return any(e.is_displayed() for e in self.driver.find_elements(By.CSS_SELECTOR, css))

    # -- input, as a user gives it

    @in_worker_thread
    def click(self, css, timeout=DEFAULT_TIMEOUT):
        """Wait until an element matching ``css`` is visible, then click it."""
        self._visible(css, timeout).click()

    @in_worker_thread
    def fill(self, css, text, timeout=DEFAULT_TIMEOUT):
        """Clear a visible input and type ``text`` into it."""
        element = self._visible(css, timeout)
        element.clear()
        element.send_keys(text)

    @in_worker_thread
    def type(self, css, *keys, timeout=DEFAULT_TIMEOUT):
        """Type into a visible element without clearing it (``Keys`` allowed)."""
        self._visible(css, timeout).send_keys(*keys)

    def press_enter(self, css):
        from selenium.webdriver.common.keys import Keys

        return self.type(css, Keys.ENTER)


def start_chromium(profile_dir, size, flags=()):
    """A WebDriver session on Debian's Chromium through Debian's chromedriver (no downloads).

    ``flags`` are extra command-line switches for this one browser, e.g. the
    TLS test's ``--ignore-certificate-errors-spki-list`` that trusts one test key.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, *flags]:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture
def browsers(tmp_path, request):
    """Start separate Chromium profiles by name; at the end save each one's last screen and console, then quit."""
    started = []

    @defer.inlineCallbacks
    def start(name, size=DESKTOP, flags=()):
        profile = tmp_path / f"chromium-{name}"
        profile.mkdir()
        browser = yield Browser.start(name, profile, size, flags)
        started.append(browser)
        return browser

    yield start
    for browser in started:
        save_last_screen(browser, ARTIFACTS / "last" / f"{request.node.name}-{browser.name}")
        pytest_twisted.blockon(browser.quit())
        shutil.rmtree(browser.profile_dir, ignore_errors=True)


def save_last_screen(browser, stem):
    """A screenshot and the console log of a browser, for looking into a failure."""
    try:
        pytest_twisted.blockon(browser.screenshot(stem.parent / f"{stem.name}.png"))
        console = pytest_twisted.blockon(browser.console_log())
        (stem.parent / f"{stem.name}.console.txt").write_text(
            "\n".join(str(entry) for entry in console), encoding="utf-8")
    except Exception as e:  # a dead browser must not hide the test's own result
        print(f"could not save the last screen of {browser.name}: {e}")
