"""Link previews of chat messages (API §9, ``--link-previews``): a message linking to a page gains
``preview`` after the send was answered, announced on chat.room.<id>.edit and kept in history; an edit to
other text drops it; with the option off nothing is fetched. The page is served on 127.0.0.1, which the
default guard refuses, so each test's node is given a fetch policy allowing that one address (no option of
twistd wampchat: an attribute of the running previewer)."""
import ipaddress

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task

from chatkit import make_world, payloads  # noqa: F401 (fixture)
from pageserver import PageServer
from wampchat.chat.link_previews import LinkPreviews
from wampchat.previews.fetch import Page
from wampchat.previews.guard import FetchPolicy, Refused

ALLOW_LOCAL = FetchPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), ports=None)
PAGE = "<head><meta property='og:title' content='Walrus facts'><meta name=description content='Tusks.'></head>"


@pytest.fixture
def pages():
    running = PageServer()
    running.pages.html("/walrus", PAGE)
    running.pages.html("/seal", "<title>Seal facts</title>")
    running.pages.html("/data", "{}", "application/json")
    yield running
    pytest_twisted.blockon(running.stop())


def messages_of(world):
    return world.server.service.getServiceNamed("chat").session.messages


@defer.inlineCallbacks
def previewing_world(make_world):  # noqa: F811
    world = yield make_world(["--link-previews"])
    messages_of(world).previews.fetcher.policy = ALLOW_LOCAL
    return world


@defer.inlineCallbacks
def settled(world):
    """Wait for every preview this node is making."""
    previews = messages_of(world).previews
    while previews.working:
        yield defer.DeferredList(list(previews.working))
        yield task.deferLater(reactor, 0, lambda: None)   # let the last callbacks run


@pytest_twisted.inlineCallbacks
def test_a_message_gains_its_links_preview_by_an_edit_event_and_keeps_it(make_world, pages):  # noqa: F811
    world = yield previewing_world(make_world)
    ann = yield world.user("ann")
    edits = yield world.listen(ann, "chat.room.lobby.edit")
    url = pages.url("/walrus")
    sent = yield ann.call("chat.message.send", "lobby", f"read {url}, it is good")
    assert "preview" not in sent   # the send is answered before any fetch

    yield edits.wait_for(1)
    (event,) = payloads(edits)
    assert event["id"] == sent["id"] and event["text"] == sent["text"]
    assert event["preview"] == {"url": url, "title": "Walrus facts", "description": "Tusks."}
    history = yield ann.call("chat.message.history", "lobby")
    assert history["messages"][-1]["preview"] == event["preview"]
    changed = yield ann.call("chat.message.history", "lobby", changed_after=0)
    assert [m["id"] for m in changed["messages"]] == [sent["id"]]   # a client that missed the event catches up
    assert pages.pages.requests == [("/walrus", f"127.0.0.1:{pages.number}")]


@pytest_twisted.inlineCallbacks
def test_an_edit_keeps_the_preview_of_the_same_link_and_drops_or_renews_it_otherwise(make_world, pages):  # noqa: F811
    world = yield previewing_world(make_world)
    ann = yield world.user("ann")
    edits = yield world.listen(ann, "chat.room.lobby.edit")
    walrus, seal = pages.url("/walrus"), pages.url("/seal")
    sent = yield ann.call("chat.message.send", "lobby", f"see {walrus}")
    yield edits.wait_for(1)
    kept = yield ann.call("chat.message.edit", "lobby", sent["id"], f"do see {walrus} now")
    assert kept["preview"]["title"] == "Walrus facts"
    dropped = yield ann.call("chat.message.edit", "lobby", sent["id"], "no link any more")
    assert "preview" not in dropped
    renewed = yield ann.call("chat.message.edit", "lobby", sent["id"], f"this one: {seal}")
    assert "preview" not in renewed
    yield edits.wait_for(5)   # the preview, three edits, the new preview
    assert payloads(edits)[-1]["preview"] == {"url": seal, "title": "Seal facts", "description": ""}
    yield settled(world)
    assert len(edits.events) == 5   # the kept and dropped edits fetched nothing
    assert [path for path, _ in pages.pages.requests] == ["/walrus", "/seal"]
    page = yield ann.call("chat.message.history", "lobby")
    assert page["messages"][-1]["preview"]["url"] == seal


@pytest_twisted.inlineCallbacks
def test_no_preview_for_a_page_that_is_not_html_nor_for_a_refused_address(make_world, pages):  # noqa: F811
    world = yield previewing_world(make_world)
    ann = yield world.user("ann")
    sent = [(yield ann.call("chat.message.send", "lobby", f"look {pages.url('/data')}"))]
    messages_of(world).previews.fetcher.policy = FetchPolicy(ports=None)   # the default guard
    sent.append((yield ann.call("chat.message.send", "lobby", f"look {pages.url('/walrus')}")))
    sent.append((yield ann.call("chat.message.send", "lobby", "look http://169.254.169.254/latest/meta-data/")))
    yield settled(world)
    history = yield ann.call("chat.message.history", "lobby")
    assert [m["id"] for m in history["messages"][-3:]] == [m["id"] for m in sent]
    assert not any("preview" in m for m in history["messages"])
    assert [path for path, _ in pages.pages.requests] == ["/data"]


@pytest_twisted.inlineCallbacks
def test_with_the_option_off_nothing_is_fetched(make_world, pages):  # noqa: F811
    world = yield make_world()
    ann = yield world.user("ann")
    assert messages_of(world).previews is None
    yield ann.call("chat.message.send", "lobby", f"read {pages.url('/walrus')}")
    history = yield ann.call("chat.message.history", "lobby")
    assert "preview" not in history["messages"][-1]
    assert pages.pages.requests == []


class _Context:
    """What LinkPreviews uses of a ChatContext, for counting fetches without a node."""

    def __init__(self):
        self.reactor = task.Clock()


class _Fetcher:
    def __init__(self):
        self.fetches = {}

    def fetch(self, url):
        if "refused" in url:   # the guard refuses before any I/O: the fetch has failed already
            return defer.fail(Refused(f"{url}: not a public address"))
        self.fetches[url] = defer.Deferred()
        return self.fetches[url]


def test_at_most_eight_fetches_at_once_one_per_url_and_each_outcome_is_cached():
    fetcher = _Fetcher()
    previews = LinkPreviews(_Context(), fetcher)
    stored = []

    async def store(preview, room, message):
        stored.append((message["id"], preview))

    previews._store = store
    room = {"id": "lobby", "private": False}
    previews.message_sent(room, {"id": "refused", "text": "http://refused.example/"})
    assert stored == [("refused", None)] and not previews.working   # a refusal settles at once
    stored.clear()
    for n in range(10):
        previews.message_sent(room, {"id": f"m{n}", "text": f"http://site{n}.example/"})
    previews.message_sent(room, {"id": "again", "text": "http://site0.example/ again"})
    previews.message_sent(room, {"id": "plain", "text": "no link"})
    assert len(fetcher.fetches) == 8 and previews.dropped == 2
    fetcher.fetches["http://site0.example/"].callback(Page("http://site0.example/", None, b"<title>Zero</title>", False))
    expected = {"url": "http://site0.example/", "title": "Zero", "description": ""}
    assert stored == [("m0", expected), ("again", expected)]
    previews.message_sent(room, {"id": "cached", "text": "http://site0.example/"})
    assert stored[-1] == ("cached", expected) and len(fetcher.fetches) == 8
    previews._ctx.reactor.advance(previews.cache_seconds + 1)
    previews.message_sent(room, {"id": "stale", "text": "http://site0.example/"})
    assert len(stored) == 3 and fetcher.fetches["http://site0.example/"].called is False   # fetched anew
    assert len(previews.working) == 8   # m1..m7 still fetching, and the stale one
