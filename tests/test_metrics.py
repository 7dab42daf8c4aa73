"""
/metrics through prometheus_client: one registry per router, process metrics,
and the call and chat-send latency histograms.

The dealer's histogram is checked in memory with a Clock, so durations are
exact; the chat one and content negotiation over a real server on 127.0.0.1.
"""
import pathlib
import re

import pytest
import pytest_twisted
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from twisted.internet.task import Clock
from twisted.web.client import Agent
from twisted.web.http_headers import Headers

from helpers import read_body
from test_router_core import RawPeer  # the raw in-memory WAMP peer
from test_tap import parse_metrics
from wampchat.amqp import AmqpBridge, BridgeSettings
from wampchat.router import Router
from wampchat.router.config import RouterConfig
from wampchat.router.metrics import Metrics
from wampchat.router.session import wamp_name


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def realm(clock):
    return Router(clock, RouterConfig()).realm("wampchat")


def call_duration(realm):
    """count, sum and the 0.25 s and 0.5 s buckets of wampchat_call_duration_seconds, from the realm's registry."""
    sample = realm.metrics.registry.get_sample_value
    name = "wampchat_call_duration_seconds"
    return {"count": sample(name + "_count"), "sum": sample(name + "_sum"),
            "le_0.25": sample(name + "_bucket", {"le": "0.25"}), "le_0.5": sample(name + "_bucket", {"le": "0.5"})}


def registered_callee(realm, call_canceling=True):
    """A raw callee registered for app.slow, and a raw caller."""
    callee, caller = RawPeer(realm, "svc", call_canceling=call_canceling), RawPeer(realm, "alice")
    callee.send(message.Register(1, "app.slow"))
    assert isinstance(callee.take()[0], message.Registered)
    return callee, caller


def test_a_routed_call_is_timed_from_call_to_result(realm, clock):
    """A call the callee answers 0.3 s later lands in the 0.5 s bucket, not the 0.25 s one, with sum 0.3."""
    callee, caller = registered_callee(realm)
    assert call_duration(realm)["count"] == 0
    caller.send(message.Call(7, "app.slow"))
    [invocation] = callee.take()
    clock.advance(0.3)
    callee.send(message.Yield(invocation.request, args=["done"]))
    [result] = caller.take()
    assert isinstance(result, message.Result)
    h = call_duration(realm)
    assert h["count"] == 1 and h["sum"] == pytest.approx(0.3)
    assert h["le_0.25"] == 0 and h["le_0.5"] == 1


def test_progress_does_not_end_the_timing_and_errors_are_timed(realm, clock):
    """Progressive results are not the answer; an ERROR from the callee ends the timing like a RESULT."""
    callee, caller = registered_callee(realm)
    caller.send(message.Call(7, "app.slow", receive_progress=True))
    [invocation] = callee.take()
    clock.advance(0.1)
    callee.send(message.Yield(invocation.request, args=["10%"], progress=True))
    assert call_duration(realm)["count"] == 0
    clock.advance(0.1)
    callee.send(message.Error(message.Invocation.MESSAGE_TYPE, invocation.request, "app.error.failed"))
    assert [wamp_name(m) for m in caller.take()] == ["RESULT", "ERROR"]
    h = call_duration(realm)
    assert h["count"] == 1 and h["sum"] == pytest.approx(0.2)


def test_timeouts_cancels_and_departed_callees_are_timed_once(realm, clock):
    """A timeout, a skip cancel and a callee leaving each answer the caller and count once; late YIELDs do not."""
    callee, caller = registered_callee(realm)
    caller.send(message.Call(1, "app.slow", timeout=500))
    [first] = callee.take()
    clock.advance(0.5)
    callee.send(message.Yield(first.request, args=["too late"]))
    caller.send(message.Call(2, "app.slow"))
    clock.advance(1.0)
    caller.send(message.Cancel(2, mode="skip"))
    caller.send(message.Call(3, "app.slow"))
    clock.advance(2.0)
    callee.transport.close()
    errors = [m.error for m in caller.take()]
    assert errors == [ApplicationError.TIMEOUT, ApplicationError.CANCELED, ApplicationError.CANCELED]
    h = call_duration(realm)
    assert h["count"] == 3 and h["sum"] == pytest.approx(0.5 + 1.0 + 2.0)


def test_calls_the_router_answers_and_callers_that_leave_are_not_timed(realm, clock):
    """no_such_procedure, router built-ins and a call whose caller left never reach the histogram."""
    callee, caller = registered_callee(realm)
    caller.send(message.Call(1, "app.nobody"))
    assert [wamp_name(m) for m in caller.take()] == ["ERROR"]
    admin = RawPeer(realm, "root", "admin")  # the session meta API is for admin and service
    admin.send(message.Call(2, "wamp.session.count"))
    assert [wamp_name(m) for m in admin.take()] == ["RESULT"]
    caller.send(message.Call(3, "app.slow"))
    callee.take()
    caller.transport.close()
    assert call_duration(realm)["count"] == 0
    assert realm.metrics.value("wampchat_calls_total") == 3  # routed or not, every CALL is counted


def test_every_router_has_its_own_registry():
    """Two routers in one process count separately and each exposes its own process metrics."""
    a, b = Router(Clock(), RouterConfig()), Router(Clock(), RouterConfig())
    assert a.metrics.registry is not b.metrics.registry
    a.metrics.calls.value += 5
    a.metrics.histogram("wampchat_test_seconds", "a histogram only router a has").observe(1.0)
    va, vb = parse_metrics(a.metrics.render()), parse_metrics(b.metrics.render())
    assert va["wampchat_calls_total"] == 5 and vb["wampchat_calls_total"] == 0
    assert va["wampchat_test_seconds_count"] == 1 and "wampchat_test_seconds_count" not in vb
    for values in (va, vb):
        assert values["process_resident_memory_bytes"] > 1e6 and values["process_open_fds"] > 3
        assert values["process_max_fds"] >= values["process_open_fds"]


def test_the_small_interface_keeps_working():
    """counter() and histogram() get-or-create, counters need _total, value() reads any sample or None."""
    m = Metrics()
    c = m.counter("wampchat_things_total", "things")
    assert m.counter("wampchat_things_total", "things") is c
    c.inc()
    c.value += 2
    assert m.value("wampchat_things_total") == 3
    m.gauge("wampchat_answer", "a gauge read at scrape time", lambda: 42)
    assert m.value("wampchat_answer") == 42 and parse_metrics(m.render())["wampchat_answer"] == 42
    assert m.histogram("wampchat_x_seconds", "x") is m.histogram("wampchat_x_seconds", "x")
    assert m.value("wampchat_x_seconds_count") == 0 and m.value("wampchat_no_such_thing") is None
    with pytest.raises(ValueError, match="_total"):
        m.counter("wampchat_things", "a counter without the suffix")


async def get(url, accept=None):
    """GET ``url``; (content type, body text)."""
    from twisted.internet import reactor

    headers = Headers({b"accept": [accept.encode()]}) if accept else None
    response = await Agent(reactor).request(b"GET", url.encode(), headers)
    body = await read_body(response)
    assert response.code == 200
    return response.headers.getRawHeaders(b"content-type")[0].decode(), body.decode()


@pytest_twisted.ensureDeferred
async def test_chat_sends_are_timed_and_scraped(server, clients):
    """Each successful chat.message.send is one observation and one group-commit item; a refused one is neither."""
    _, text = await get(server.http_url + "/metrics")
    assert parse_metrics(text)["wampchat_chat_send_duration_seconds_count"] == 0
    ann = await clients(server.ws_url, authextra={"nick": "Ann"})
    await ann.call("chat.room.join", "lobby")
    sent = await ann.call("chat.message.send", "lobby", "hello metrics")
    assert sent["text"] == "hello metrics"
    await ann.call("chat.message.send", "lobby", "again")
    with pytest.raises(ApplicationError):
        await ann.call("chat.message.send", "lobby", "")
    _, text = await get(server.http_url + "/metrics")
    values = parse_metrics(text)
    assert values["wampchat_chat_send_duration_seconds_count"] == 2
    assert 0 < values["wampchat_chat_send_duration_seconds_sum"] < 10
    assert values['wampchat_chat_send_duration_seconds_bucket{le="+Inf"}'] == 2
    # the empty text is refused before the group commit; sequential sends are one commit each
    assert values["wampchat_chat_send_items_total"] == values["wampchat_chat_send_batches_total"] == 2


@pytest_twisted.ensureDeferred
async def test_metrics_speak_openmetrics_to_a_scraper_that_asks(server):
    """Plain GET gets text format 0.0.4; Prometheus asking for OpenMetrics gets it, ending in # EOF."""
    content_type, text = await get(server.http_url + "/metrics")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE wampchat_calls_total counter" in text and "# EOF" not in text
    content_type, text = await get(server.http_url + "/metrics",
                                   accept="application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert "# TYPE wampchat_calls counter" in text and text.endswith("# EOF\n")


@pytest_twisted.ensureDeferred
async def test_the_readme_table_lists_every_series(server):
    """Each series a node with the AMQP bridge exposes has a row of the right type in the metrics table of the
    production guide (docs/production.md), and no row is stale."""
    from prometheus_client.parser import text_string_to_metric_families
    from twisted.internet import reactor

    # a bridge that is never started: it only adds its series to the router's registry
    AmqpBridge(server.router, "wampchat", BridgeSettings("amqp://node:secret@127.0.0.1:1/%2f", "n1"), reactor)
    _, text = await get(server.http_url + "/metrics")
    exposed = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # part of its histogram, described there
        exposed[family.name + ("_total" if family.type == "counter" else "")] = family.type
    readme = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "production.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Metrics"):]  # the guide's last section
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", table, flags=re.M))
    assert len(exposed) > 30 and "wampchat_amqp_connected" in exposed
    assert rows == exposed


def test_histogram_buckets_are_inclusive_upper_bounds_and_cumulative():
    """A value equal to a bound counts in that bucket; each ``le`` bucket holds everything at or below it."""
    m = Metrics()
    h = m.histogram("wampchat_y_seconds", "y", buckets=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(value)
    values = parse_metrics(m.render())
    assert values['wampchat_y_seconds_bucket{le="0.1"}'] == 2
    assert values['wampchat_y_seconds_bucket{le="1.0"}'] == 4
    assert values['wampchat_y_seconds_bucket{le="+Inf"}'] == 5 == values["wampchat_y_seconds_count"]
    assert values["wampchat_y_seconds_sum"] == pytest.approx(8.65)
