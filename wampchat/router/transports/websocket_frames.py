"""
The WebSocket framing the router does itself (RFC 6455 §5.2) instead of through Autobahn's frame
machinery, which costs more than the write: a server frame built in one step, a client frame's payload
unmasked as one big integer, a text message checked for UTF-8 once.
"""
import struct


def is_utf8(payload):
    """Whether ``payload`` is valid UTF-8 (RFC 3629: no surrogates, no overlong forms, at most U+10FFFF)."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unmask(payload, mask):
    """XOR a client frame's payload with its 4-byte mask, as one big integer."""
    size = len(payload)
    if not size:
        return b""
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")


def websocket_frame(payload, binary):
    """One unfragmented, unmasked (server-to-client) WebSocket frame (RFC 6455 §5.2)."""
    first = 0x82 if binary else 0x81
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload
