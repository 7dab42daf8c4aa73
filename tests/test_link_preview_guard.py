"""The link previews' guard against server-side request forgery (API §9), and the guarded fetch on real
sockets: a local server on 127.0.0.1 is fetched only where a test's policy allows that address, and every
refusal is shown to make no request at all."""
import ipaddress

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from pageserver import PageServer
from wampchat.previews.fetch import GuardedFetcher
from wampchat.previews.guard import FetchFailed, FetchPolicy, Refused, TimedOut, address_refusal, checked_url
from wampchat.previews.html_meta import MAX_DESCRIPTION, MAX_TITLE, page_meta
from wampchat.previews.links import first_url

LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)
ANY_PORT = FetchPolicy(ports=None)                      # the default address guard, the test server's port
ALLOW_LOCAL = FetchPolicy(allow_networks=LOCAL, ports=None)
PAGE = ("<html><head><title>plain title</title><meta property='og:title' content=' The   Walrus '>"
        "<meta name='description' content='All about &amp; walruses'></head><body><title>no</title></body></html>")


@pytest.fixture
def server():
    running = PageServer()
    yield running
    pytest_twisted.blockon(running.stop())


@defer.inlineCallbacks
def failure_of(d, kind=FetchFailed):
    try:
        result = yield d
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__}, got {result!r}")


# -- the parts, without a network -------------------------------------------------------------------
@pytest.mark.parametrize("text, url", [
    ("see https://x.org/a.", "https://x.org/a"),
    ("(https://en.wikipedia.org/wiki/A_(b)) yes", "https://en.wikipedia.org/wiki/A_(b)"),
    ("two: http://one.example/?q=1, http://two.example", "http://one.example/?q=1"),
    ("ftp://files.example and www.example.com", None),
    ("just http:// and nothing", None),
])
def test_the_first_http_url_of_a_text_without_trailing_punctuation(text, url):
    assert first_url(text) == url


def test_page_meta_prefers_open_graph_reads_only_the_head_and_cuts_long_text():
    assert page_meta(PAGE.encode()) == {"title": "The Walrus", "description": "All about & walruses"}
    assert page_meta(b"<title>\n Only\ta  title </title>") == {"title": "Only a title", "description": ""}
    assert page_meta(b"<html><body><title>too late</title><p>text</p>") is None
    long = page_meta(f"<title>{'t' * 999}</title><meta name=description content='{'d ' * 999}'>".encode())
    assert len(long["title"]) == MAX_TITLE and len(long["description"]) <= MAX_DESCRIPTION
    assert long["title"].endswith("…") and long["description"].endswith("…")
    assert page_meta("<title>café</title>".encode("latin-1"), "iso-8859-1")["title"] == "café"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "2002:a00:1::1", "64:ff9b::a9fe:a9fe", "fe80::1%eth0",
])
def test_loopback_private_link_local_multicast_and_reserved_addresses_are_refused(address):
    assert "not a public address" in address_refusal(address, FetchPolicy())


def test_public_addresses_pass_and_a_tests_allowed_network_passes_only_itself():
    for address in ("93.184.216.34", "1.1.1.1", "2606:4700::1111", "2002:5db8:d822::1"):
        assert address_refusal(address, FetchPolicy()) is None
    assert address_refusal("127.0.0.1", ALLOW_LOCAL) is None
    assert address_refusal("127.0.0.2", ALLOW_LOCAL) is not None


@pytest.mark.parametrize("url, why", [
    ("ftp://example.com/", "only http and https"), ("javascript:alert(1)", "only http and https"),
    ("http://user:pw@example.com/", "user name or password"), ("http://example.com:8080/", "port 8080"),
    ("http://example.com:22/", "port 22"), ("http:///path", "without a host"),
    ("http://example.com:99999/", "not a valid URL"), ("http://example.com/" + "a" * 2048, "longer than"),
])
def test_urls_the_guard_refuses_before_any_lookup(url, why):
    with pytest.raises(Refused, match=why):
        checked_url(url, FetchPolicy())


def test_urls_are_sent_in_ascii_with_their_host_for_dns_and_the_host_header():
    target = checked_url("https://Bücher.example/ä b?q=ü#frag", FetchPolicy())
    assert (target.url, target.host, target.port) == ("https://xn--bcher-kva.example/%C3%A4%20b?q=%C3%BC",
                                                      "xn--bcher-kva.example", 443)
    assert checked_url("http://[::1]:81/", ANY_PORT).host == "::1"


# -- fetching, on real sockets ------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_an_allowed_page_is_fetched_with_its_host_header(server):
    server.pages.html("/page", PAGE)
    page = yield GuardedFetcher(reactor, ALLOW_LOCAL).fetch(server.url("/page"))
    assert page_meta(page.body, page.charset)["title"] == "The Walrus"
    assert (page.cut, page.charset) == (False, "utf-8")
    assert server.pages.requests == [("/page", f"127.0.0.1:{server.number}")]


@pytest_twisted.inlineCallbacks
def test_local_addresses_and_names_are_refused_by_default_without_any_request(server):
    """Literal loopback (in several spellings), private and link-local addresses and ``localhost`` are refused
    by the default guard (here on any port, so the address is what refuses), and the server hears nothing."""
    server.pages.html("/", PAGE)
    port = server.number
    fetcher = GuardedFetcher(reactor, ANY_PORT)
    for url in (f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://[::1]:{port}/",
                f"http://[::ffff:127.0.0.1]:{port}/", f"http://2130706433:{port}/", f"http://0x7f.1:{port}/",
                f"http://0.0.0.0:{port}/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                "http://192.168.0.1/"):
        refused = yield failure_of(fetcher.fetch(url), Refused)
        assert "not a public address" in str(refused), url
    assert server.pages.requests == []


@pytest_twisted.inlineCallbacks
def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(server):
    names = {"intranet.test": ["10.1.2.3"], "mixed.test": ["93.184.216.34", "127.0.0.1"], "v6.test": ["fd00::1"]}
    fetcher = GuardedFetcher(reactor, ANY_PORT, resolve=lambda host, port: defer.succeed(names[host]))
    for host in names:
        refused = yield failure_of(fetcher.fetch(f"http://{host}:{server.number}/"), Refused)
        assert host in str(refused)
    assert server.pages.requests == []


@pytest_twisted.inlineCallbacks
def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(server):
    """The name is looked up once per hop; the request reaches the address that was checked, with the name
    in its Host header (a name nobody's DNS knows, so no other lookup could have found the server)."""
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        return defer.succeed(["127.0.0.1"])

    server.pages.html("/p", PAGE)
    page = yield GuardedFetcher(reactor, ALLOW_LOCAL, resolve=resolve).fetch(f"http://pinned.test:{server.number}/p")
    assert page.url == f"http://pinned.test:{server.number}/p"
    assert lookups == ["pinned.test"]
    assert server.pages.requests == [("/p", f"pinned.test:{server.number}")]


@pytest_twisted.inlineCallbacks
def test_redirects_are_followed_and_each_hop_is_checked_again(server):
    """A relative redirect on the allowed server is followed; one to another loopback address (a second server
    listening on 127.0.0.2), to a private or a link-local address is refused, and that server hears nothing."""
    other = PageServer("127.0.0.2")
    try:
        other.pages.html("/", PAGE)
        server.pages.html("/page", PAGE)
        server.pages.redirect("/moved", "/page", 301)
        server.pages.redirect("/to-other", other.url("/"))
        server.pages.redirect("/to-private", "http://10.0.0.1/")
        server.pages.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/", 307)
        server.pages.redirect("/loop", "/loop")
        fetcher = GuardedFetcher(reactor, ALLOW_LOCAL)
        page = yield fetcher.fetch(server.url("/moved"))
        assert page.url == server.url("/page")
        for path in ("/to-other", "/to-private", "/to-metadata"):
            refused = yield failure_of(fetcher.fetch(server.url(path)), Refused)
            assert "not a public address" in str(refused)
        assert other.pages.requests == []
        too_many = yield failure_of(fetcher.fetch(server.url("/loop")))
        assert "more than 3 redirects" in str(too_many)
        assert [path for path, _ in server.pages.requests].count("/loop") == 4
    finally:
        yield other.stop()


@pytest_twisted.inlineCallbacks
def test_only_html_is_read(server):
    server.pages.html("/data.json", '{"title": "no"}', "application/json")
    server.pages.html("/xhtml", "<title>x</title>", "application/xhtml+xml")
    server.pages.html("/text", "<title>plain</title>", "text/plain")
    server.pages.html("/untyped", "<title>no type</title>", "")
    fetcher = GuardedFetcher(reactor, ALLOW_LOCAL)
    refused = yield failure_of(fetcher.fetch(server.url("/data.json")))
    assert "application/json, not HTML" in str(refused)
    assert "text/plain, not HTML" in str((yield failure_of(fetcher.fetch(server.url("/text")))))
    assert "of no type, not HTML" in str((yield failure_of(fetcher.fetch(server.url("/untyped")))))
    assert (yield fetcher.fetch(server.url("/xhtml"))).body == b"<title>x</title>"
    missing = yield failure_of(fetcher.fetch(server.url("/missing")))
    assert "answered 404" in str(missing)


@pytest_twisted.inlineCallbacks
def test_reading_stops_at_one_mebibyte_and_the_connection_is_dropped(server):
    """An endless page gives its first MiB (the head is there) and the server sees the client go away."""
    server.pages.routes["/endless"] = (200, {}, b"endless")
    page = yield GuardedFetcher(reactor, ALLOW_LOCAL).fetch(server.url("/endless"))
    assert page.cut and len(page.body) == 1024 * 1024
    assert page_meta(page.body)["title"] == "Endless"
    sent = yield server.pages.dropped
    assert sent < 64 * 1024 * 1024


@pytest_twisted.inlineCallbacks
def test_a_server_that_never_answers_is_given_up_on_at_the_timeout(server):
    server.pages.routes["/silent"] = (200, {}, b"silent")
    started = reactor.seconds()
    fetcher = GuardedFetcher(reactor, FetchPolicy(allow_networks=LOCAL, ports=None, timeout=0.3))
    timed_out = yield failure_of(fetcher.fetch(server.url("/silent")), TimedOut)
    assert "no page within 0.3 seconds" in str(timed_out)
    assert reactor.seconds() - started < 3
    yield server.pages.dropped   # the connection was closed, not left open
