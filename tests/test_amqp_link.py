"""The txamqp link and its outbox: order, bound, confirms, refused logins and channel errors."""
import json

import pytest
import pytest_twisted
from twisted.internet import reactor

from helpers import poll_until
from rabbitmq import NODE_USER, PikaPeer, rabbitmq  # noqa: F401 (fixture)
from wampchat.amqp.link import AmqpLink
from wampchat.amqp.url import AmqpUrl
from wampchat.amqp.outbox import Outbox, OutgoingMessage
from wampchat.router.metrics import Metrics


def _msg(n):
    return OutgoingMessage("x", f"k.{n}", str(n).encode(), {"message_id": str(n)})


def _ids(messages):
    return [m.properties["message_id"] for m in messages]


def test_outbox_drops_oldest_pending_past_its_bound():
    """Past the bound the oldest waiting messages are dropped and reported, newer ones kept in order."""
    dropped = []
    box = Outbox(3, dropped.extend)
    for n in range(5):
        box.add(_msg(n))
    assert _ids(dropped) == ["0", "1"]
    assert _ids(box.pending) == ["2", "3", "4"]


def test_outbox_resends_unconfirmed_first_and_in_order():
    """After a lost channel, unconfirmed messages go out again before pending ones, in their order."""
    box = Outbox(10, lambda dropped: pytest.fail("nothing should be dropped"))
    for n in range(4):
        box.add(_msg(n))
    for tag in (1, 2, 3):
        box.sent(tag, box.take())
    assert box.confirm(1, multiple=False) == 1
    assert box.requeue_unconfirmed() == 2
    assert _ids(box.pending) == ["1", "2", "3"]
    assert len(box) == 3


def test_outbox_multiple_confirm_and_nack():
    """A multiple ack confirms every tag up to it; a nack puts the refused ones back first."""
    box = Outbox(10, lambda dropped: None)
    for n in range(5):
        box.add(_msg(n))
    for tag in range(1, 5):
        box.sent(tag, box.take())
    assert box.confirm(2, multiple=True) == 2
    assert box.nack(4, multiple=True) == 2
    assert _ids(box.pending) == ["2", "3", "4"]
    assert not box.unconfirmed


def test_outbox_bound_counts_unconfirmed_after_requeue():
    """Requeueing past the bound drops the oldest: memory stays bounded across outages."""
    dropped = []
    box = Outbox(3, dropped.extend)
    for n in range(3):
        box.add(_msg(n))
    for tag in (1, 2):
        box.sent(tag, box.take())
    box.add(_msg(3))  # 2 unconfirmed + 2 pending > 3: the oldest pending one ("2") goes
    assert _ids(dropped) == ["2"]
    box.requeue_unconfirmed()
    assert _ids(box.pending) == ["0", "1", "3"]


@pytest.mark.parametrize("url, expected", [
    ("amqp://u:p%40ss@h/", ("h", 5672, "u", "p@ss", "/", False)),
    ("amqps://h:1234/%2fprod", ("h", 1234, "guest", "guest", "/prod", True)),
    ("amqp://h/v", ("h", 5672, "guest", "guest", "v", False)),
])
def test_urls_parse(url, expected):
    """AMQP URLs give host, port, user, password, vhost (percent-decoded) and TLS."""
    u = AmqpUrl(url)
    assert (u.host, u.port, u.username, u.password, u.vhost, u.tls) == expected
    assert u.password not in str(u) or u.password == "guest"


@pytest.mark.parametrize("url", ["http://h/", "amqp:///", "amqp://h:99999/", "amqp://h/?cafile=x.pem"])
def test_bad_urls_are_refused(url):
    """Wrong scheme, no host, bad port, a CA file without TLS: each is a ValueError with a reason."""
    with pytest.raises(ValueError):
        AmqpUrl(url)


def test_amqps_endpoint_verifies_the_host():
    """An amqps:// URL builds a TLS endpoint (certificate checked for the host name by service-identity)."""
    from twisted.internet.endpoints import _WrapperEndpoint

    endpoint = AmqpUrl("amqps://u:p@broker.example/").endpoint(reactor)
    assert isinstance(endpoint, _WrapperEndpoint)


async def _setup_exchange(link, channel):
    await channel.exchange_declare(exchange="linktest", type="topic", durable=True)


def _link(rabbitmq, url=None, limit=1000, setup=_setup_exchange):
    metrics = Metrics()
    link = AmqpLink(reactor, url or rabbitmq.url(NODE_USER), setup, metrics, outbox_limit=limit, retry_max=1.0)
    return link, metrics


@pytest_twisted.ensureDeferred
async def test_link_publishes_in_order_with_confirms(rabbitmq):
    """Messages queued before and after connecting reach a pika consumer in order, and are all confirmed."""
    peer = await PikaPeer.connect(rabbitmq)
    link, metrics = _link(rabbitmq)
    try:
        inbox = await peer.listen("linktest", "t.#")
        for n in range(5):  # queued while still connecting
            link.publish("linktest", f"t.{n}", json.dumps(n).encode(), {"message_id": f"m{n}", "delivery_mode": 2})
        link.startService()
        await link.when_connected()
        for n in range(5, 300):
            link.publish("linktest", f"t.{n}", json.dumps(n).encode(), {"message_id": f"m{n}", "delivery_mode": 2})
        got = await inbox.take(300)
        assert [json.loads(body) for _, _, _, body in got] == list(range(300))
        assert [m.routing_key for _, m, _, _ in got][:3] == ["t.0", "t.1", "t.2"]
        assert got[7][2].message_id == "m7" and got[7][2].delivery_mode == 2
        await poll_until(lambda: len(link.outbox) == 0)
        assert metrics.value("wampchat_amqp_confirmed_total") == 300
        assert metrics.value("wampchat_amqp_connected") == 1
    finally:
        await link.stopService()
        peer.close()
    assert link.state == "down"


@pytest_twisted.ensureDeferred
async def test_refused_login_is_counted_and_retried_without_stopping(rabbitmq):
    """A wrong password is logged and counted, the link keeps retrying with backoff and stops cleanly."""
    link, metrics = _link(rabbitmq, url=rabbitmq.url((NODE_USER[0], "wrong")))
    link.publish("linktest", "t.x", b"1", {})
    link.startService()
    try:
        await poll_until(lambda: metrics.value("wampchat_amqp_connection_failures_total") >= 2, timeout=20)
        assert link.state in ("down", "connecting")
        assert len(link.outbox) == 1  # kept for when the broker lets us in
    finally:
        await link.stopService()


@pytest_twisted.ensureDeferred
async def test_channel_closed_by_broker_reconnects(rabbitmq):
    """When the broker closes the channel (here: a passive declare of a missing queue) the link starts over."""
    link, metrics = _link(rabbitmq)
    link.startService()
    try:
        await link.when_connected()
        with pytest.raises(Exception):
            await link._channel.queue_declare(queue="no-such-queue-here", passive=True)
        await poll_until(lambda: metrics.value("wampchat_amqp_connects_total") == 2, timeout=20)
        assert metrics.value("wampchat_amqp_channel_errors_total") == 1
        await link.when_connected()
        peer = await PikaPeer.connect(rabbitmq)
        inbox = await peer.listen("linktest", "after.#")
        link.publish("linktest", "after.error", b"ok", {})
        (_, method, _, body), = await inbox.take(1)
        assert (method.routing_key, body) == ("after.error", b"ok")
        peer.close()
    finally:
        await link.stopService()


@pytest_twisted.ensureDeferred
async def test_failing_setup_is_retried(rabbitmq):
    """A set-up step the broker refuses (an exchange redeclared with another type) fails the attempt, not the link."""
    async def bad_setup(link, channel):
        await channel.exchange_declare(exchange="linktest", type="fanout", durable=True)

    link, metrics = _link(rabbitmq, setup=bad_setup)
    link.startService()
    try:
        await poll_until(lambda: metrics.value("wampchat_amqp_connection_failures_total") >= 2, timeout=20)
        assert link.state in ("down", "connecting")
    finally:
        await link.stopService()


def test_frames_round_trip_every_table_type_and_utf8():
    """Header frames keep non-ASCII strings and every field-table type RabbitMQ and pika use."""
    from io import BytesIO

    from txamqp import spec as txamqp_spec
    from txamqp.connection import Header

    from wampchat.amqp.frames import TableCodec, _decode_header, _encode_header
    from wampchat.amqp.client import SPEC_PATH

    spec = txamqp_spec.load(SPEC_PATH)
    basic = spec.classes.byname["basic"]
    headers = {"s": "ünï", "n": -5, "big": 2**40, "t": True, "f": 0.5, "raw": b"\x00\xff", "none": None,
               "nested": {"k": "v"}}
    properties = {"message-id": "nöde:1", "headers": headers, "delivery-mode": 2, "timestamp": 1700000000}
    decoded = _decode_header(spec, _encode_header(Header(basic, 0, 3, **properties)))
    assert decoded.properties == properties and decoded.size == 3
    codec = TableCodec(BytesIO())
    codec.encode_shortstr("ß")
    codec.stream.seek(0)
    assert codec.decode_shortstr() == "ß"


@pytest.mark.parametrize("properties, body_size", [
    ({}, 0),
    ({"content_type": "application/json", "delivery_mode": 2, "message_id": "nöde:1", "timestamp": 1700000000,
      "user_id": "node", "app_id": "wampchat", "headers": {"wampchat-node": "a", "wampchat-publisher": "ünï"}}, 10),
    ({"correlation_id": "c" * 255, "reply_to": "amq.rabbitmq.reply-to", "headers": {"n": 7, "ok": True}}, 300),
    ({"priority": 9, "expiration": "60000", "type": "t", "content_encoding": "utf-8"}, 9000),  # 3 body frames
])
def test_direct_publish_frames_are_the_bytes_txamqp_would_write(properties, body_size):
    """The hot-path basic.publish framing writes exactly what txamqp's own frame objects pack to."""
    from txamqp import spec as txamqp_spec
    from txamqp.connection import Body, Frame, Header, Method

    from wampchat.amqp.frames import CompleteFrames, basic_publish_frames
    from wampchat.amqp.client import SPEC_PATH

    class Packer(CompleteFrames):
        FRAME_END = 0xCE
        spec = txamqp_spec.load(SPEC_PATH)

    packer, frame_max = Packer(), 4096
    basic = packer.spec.classes.byname["basic"]
    body = bytes(range(256)) * (body_size // 256) + b"x" * (body_size % 256)
    wire_names = {name.replace("_", "-"): value for name, value in properties.items()}
    expected = [Frame(1, Method(basic.methods.byname["publish"], 0, "ex.ß", "app.topic.ünï", False, False)),
                Frame(1, Header(basic, 0, len(body), **wire_names))]
    expected += [Frame(1, Body(body[i:i + frame_max - 8])) for i in range(0, len(body), frame_max - 8)]
    assert basic_publish_frames(1, "ex.ß", "app.topic.ünï", body, properties, frame_max) == b"".join(
        packer._pack_frame(frame) for frame in expected)


def test_a_field_longer_than_amqp_allows_is_refused_before_anything_is_written():
    from wampchat.amqp.frames import basic_publish_frames

    with pytest.raises(ValueError):
        basic_publish_frames(1, "", "k" * 256, b"", {}, 4096)


class _RecordingLink:
    def __init__(self):
        self.calls = []

    def _confirmed(self, client, tag, multiple):
        self.calls.append(("ack", tag, multiple))

    def _nacked(self, client, tag, multiple):
        self.calls.append(("nack", tag, multiple))

    def _delivered(self, client, channel, msg):
        self.calls.append(("deliver", msg.consumer_tag, msg.delivery_tag, msg.redelivered, msg.exchange,
                           msg.routing_key, msg.content.properties, msg.content.body))


@pytest.mark.parametrize("piece", [1, 7, 100, 100000])
def test_confirms_and_deliveries_are_read_directly_whatever_the_tcp_pieces(piece):
    """Frames split anywhere give the same confirms and deliveries; other frames still go to txamqp, in order."""
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from txamqp.connection import Body, Frame, Header, Method

    from wampchat.amqp.client import Client, Delegate

    link = _RecordingLink()
    client = Client(Delegate(link), vhost="/", spec=AmqpLink(reactor, "amqp://u:p@h/", None, Metrics())._spec,
                     heartbeat=0, clock=Clock())
    client.link = link
    client.makeConnection(StringTransport())
    others = []
    client.frame_received = lambda frame: others.append(frame.payload.method.name) and None
    basic = client.spec.classes.byname["basic"]
    body = bytes(range(256)) * 20  # 5120 bytes: two body frames at frame_max 4096
    props = {"message-id": "svc-1", "headers": {"wampchat-node": "b", "n": 7}, "delivery-mode": 2}
    frames = [Frame(1, Method(basic.methods.byname["ack"], 5, True)),
              Frame(1, Method(basic.methods.byname["qos-ok"])),
              Frame(1, Method(basic.methods.byname["deliver"], "ctag", 7, False, "wampchat", "app.ü")),
              Frame(1, Header(basic, 0, len(body), **props))]
    frames += [Frame(1, Body(body[i:i + 4088])) for i in range(0, len(body), 4088)]
    frames += [Frame(1, Method(basic.methods.byname["nack"], 9, False, True)),
               Frame(1, Method(basic.methods.byname["deliver"], "ctag", 8, True, "wampchat", "app.empty")),
               Frame(1, Header(basic, 0, 0))]
    data = b"".join(client._pack_frame(frame) for frame in frames)
    for start in range(0, len(data), piece):
        client.dataReceived(data[start:start + piece])
    assert link.calls == [("ack", 5, True),
                          ("deliver", "ctag", 7, False, "wampchat", "app.ü",
                           {"message_id": "svc-1", "headers": props["headers"], "delivery_mode": 2}, body),
                          ("nack", 9, False),
                          ("deliver", "ctag", 8, True, "wampchat", "app.empty", {}, b"")]
    assert others == ["qos-ok"]
    assert client._unread == b""


def test_a_frame_without_frame_end_breaks_the_connection():
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport

    from wampchat.amqp.client import Client, Delegate
    from wampchat.amqp.receiving import FrameEnd

    link = _RecordingLink()
    client = Client(Delegate(link), vhost="/", spec=AmqpLink(reactor, "amqp://u:p@h/", None, Metrics())._spec,
                     heartbeat=0, clock=Clock())
    client.link = link
    client.makeConnection(StringTransport())
    with pytest.raises(FrameEnd):
        client.dataReceived(b"\x01\x00\x01\x00\x00\x00\x0c" + b"\x00\x3c\x00\x50" + b"\x00" * 8 + b"\x00" + b"\x00")
    assert link.calls == []


@pytest.mark.parametrize("properties", [
    {},
    {"content-type": "application/json", "delivery-mode": 2, "message-id": "nöde:1", "timestamp": 1700000000,
     "user-id": "node", "app-id": "wampchat", "headers": {"wampchat-node": "a", "wampchat-publisher": "ünï"}},
    {"headers": {"n": -5, "s": "x", "nested": {"k": "v"}, "raw": b"\x00"}, "priority": 3, "reply-to": "r"},
    {"type": "t", "expiration": "1", "correlation-id": "ç", "content-encoding": "utf-8"},
])
def test_content_headers_read_directly_match_the_codec(properties):
    from txamqp.connection import Header

    from wampchat.amqp.content_header import decode_basic_header
    from wampchat.amqp.frames import _encode_header

    spec = AmqpLink(reactor, "amqp://u:p@h/", None, Metrics())._spec
    payload = _encode_header(Header(spec.classes.byname["basic"], 0, 12345, **properties))
    ours = {name.replace("_", "-"): value for name, value in decode_basic_header(spec, payload)[1].items()}
    assert (decode_basic_header(spec, payload)[0], ours) == (12345, properties)


@pytest.mark.parametrize("method, tag, flag", [("ack", 1, False), ("ack", 2**40, True), ("reject", 7, False),
                                               ("reject", 2**63, True)])
def test_settle_frames_are_the_bytes_txamqp_would_write(method, tag, flag):
    from txamqp.connection import Frame, Method

    from wampchat.amqp.frames import basic_settle_frame
    from wampchat.amqp.client import Client, Delegate

    client = Client(Delegate(_RecordingLink()), vhost="/", spec=AmqpLink(reactor, "amqp://u:p@h/", None,
                                                                           Metrics())._spec)
    basic = client.spec.classes.byname["basic"]
    expected = client._pack_frame(Frame(3, Method(basic.methods.byname[method], tag, flag)))
    assert basic_settle_frame(3, tag, reject=method == "reject", flag=flag) == expected
