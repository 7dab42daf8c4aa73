"""Our WebSocket framing of outgoing messages matches Autobahn's own, byte for byte."""
import pytest
from autobahn.websocket.protocol import PreparedMessage

from wampchat.router.transports.websocket_frames import websocket_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("binary", [False, True])
def test_frame_matches_autobahn(size, binary):
    """Every length class (7-bit, 16-bit, 64-bit) frames exactly as Autobahn's PreparedMessage does."""
    payload = b"x" * size
    expected = PreparedMessage(payload, binary, False, True).payloadHybi
    assert websocket_frame(payload, binary) == expected


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 1000])
def test_unmask_matches_autobahn(size):
    """Unmasking as one integer XOR gives Autobahn's result for every length, aligned or not."""
    from autobahn.websocket.xormasker import create_xor_masker

    from wampchat.router.transports.websocket_frames import unmask

    payload, mask = bytes(range(256)) * 4, b"\x11\x22\x33\xfe"
    payload = payload[:size]
    assert unmask(payload, mask) == create_xor_masker(mask, size).process(payload)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frames_parse_as_valid_server_frames(size):
    """Our frames pass the strict RFC 6455 checks of tests/wsraw.py: unmasked, no reserved bits, minimal length."""
    from wsraw import ServerFrames

    frames = ServerFrames()
    frames.upgraded = b"HTTP/1.1 101"
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode("utf-8")  # two-byte characters, ``size`` bytes
    frames.feed(websocket_frame(payload, False) + websocket_frame(b"\xff" * size, True))
    assert frames.frames == [(1, payload), (2, b"\xff" * size)]
