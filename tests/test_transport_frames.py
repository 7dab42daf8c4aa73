"""Our WebSocket framing of outgoing messages matches Autobahn's own, byte for byte."""
import pytest
from autobahn.websocket.protocol import PreparedMessage

from wampchat.router.transports import websocket_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("binary", [False, True])
def test_frame_matches_autobahn(size, binary):
    """Every length class (7-bit, 16-bit, 64-bit) frames exactly as Autobahn's PreparedMessage does."""
    payload = b"x" * size
    expected = PreparedMessage(payload, binary, False, True).payloadHybi
    assert websocket_frame(payload, binary) == expected
