"""First real-socket checks of the router: join, pub/sub, RPC."""
import pytest
import pytest_twisted

from helpers import Collector

STORE_INDEPENDENT = True  # router and transport behaviour: one store is enough (see conftest)

SERIALIZERS = ["json", "msgpack", "cbor"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_pubsub_and_rpc_roundtrip(server, clients, serializer):
    """A guest can subscribe, publish (acknowledged), register and call under app.*."""
    a = yield clients(server.ws_url, serializer=serializer)
    b = yield clients(server.ws_url, serializer=serializer)
    got = Collector()
    yield b.subscribe(got, "app.demo.topic")
    from autobahn.wamp.types import PublishOptions
    pub = yield a.publish("app.demo.topic", 1, "two", x=3, options=PublishOptions(acknowledge=True))
    assert pub.id > 0
    events = yield got.wait_for(1)
    assert events[0] == ((1, "two"), {"x": 3})
    yield b.register(lambda x, y: x + y, "app.demo.add")
    result = yield a.call("app.demo.add", 2, 3)
    assert result == 5
