"""
WebSocket frames by hand (RFC 6455 §5), for tests that send what no WebSocket library would.

``client_frame`` builds any frame a client could put on the wire, valid or
not; ``ServerFrames`` parses what the router sends back and fails the test
if the router's own framing breaks the RFC (a masked server frame, reserved
bits, a non-minimal length, a fragmented or oversize control frame, a text
frame that is not UTF-8). ``CASES`` are the conformance cases the in-memory
and the real-socket tests share: what the client sends after joining, and
exactly which frames must come back.
"""
import base64
import json
import os
import struct
from dataclasses import dataclass

MASK = b"\x37\xfa\x21\x3d"
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
HELLO = [1, "wampchat", {"roles": {"caller": {}}, "authmethods": ["anonymous"]}]


def client_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length_form=None):
    """One client-to-server frame; ``length_form`` (126 or 127) forces a longer length encoding than needed."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if length_form == 127 or (length_form is None and size >= 65536):
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    elif length_form == 126 or (length_form is None and size >= 126):
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = bytes((first, mask_bit | size))
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def text(obj, **kwargs):
    """A text frame holding ``obj`` as JSON."""
    return client_frame(TEXT, json.dumps(obj).encode("utf-8"), **kwargs)


# Nobody registers it, so the router answers a CALL to it by itself (ERROR no_such_procedure), for any role.
UNANSWERED = "app.wsraw.nobody"


def call(request):
    """A text frame with a CALL the router answers by itself (ERROR no_such_procedure)."""
    return text([48, request, {}, UNANSWERED])


def close_frame(code=None, reason=b""):
    return client_frame(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


def upgrade_request(protocol="wamp.2.json", path="/ws"):
    """The HTTP request that opens a WebSocket with a WAMP subprotocol."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n").encode("ascii")


class ServerFrames:
    """Parses the router's bytes: the 101 response, then frames, each checked against RFC 6455."""

    def __init__(self):
        self.buffer = b""
        self.upgraded = None
        self.frames = []

    def feed(self, data):
        self.buffer += data
        if self.upgraded is None:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self.upgraded = head.split(b"\r\n", 1)[0]
            assert self.upgraded.startswith(b"HTTP/1.1 101"), head
            self.buffer = rest
        while self._one_frame():
            pass

    def _one_frame(self):
        data = self.buffer
        if len(data) < 2:
            return False
        first, second = data[0], data[1]
        fin, rsv, opcode = first >> 7, (first >> 4) & 7, first & 0x0F
        assert rsv == 0, f"server frame with reserved bits {rsv}"
        assert not second & 0x80, "server frames must not be masked"
        size, head = second & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                return False
            size, head = struct.unpack("!H", data[2:4])[0], 4
            assert size >= 126, "non-minimal 16-bit length"
        elif size == 127:
            if len(data) < 10:
                return False
            size, head = struct.unpack("!Q", data[2:10])[0], 10
            assert 65536 <= size < 1 << 63, "non-minimal or too large 64-bit length"
        if len(data) < head + size:
            return False
        payload, self.buffer = data[head:head + size], data[head + size:]
        if opcode >= 8:
            assert fin and size <= 125, "control frames are unfragmented and at most 125 bytes"
        assert opcode in (TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG), f"reserved opcode {opcode}"
        assert fin, "the router sends every message in one frame"
        if opcode == TEXT:
            payload.decode("utf-8")  # raises: a text frame must be UTF-8
        self.frames.append((opcode, payload))
        return True

    def shapes(self):
        """What arrived, comparable with a case's ``expect``: ("wamp", type), ("pong", payload), ("close", code)."""
        out = []
        for opcode, payload in self.frames:
            if opcode == TEXT:
                out.append(("wamp", json.loads(payload)[0]))
            elif opcode == PONG:
                out.append(("pong", payload))
            elif opcode == CLOSE:
                out.append(("close", struct.unpack("!H", payload[:2])[0] if payload else None))
            else:
                out.append((opcode, payload))
        return out

    def closed_with(self):
        """The close code the router sent, or None while none has arrived."""
        for kind, value in self.shapes():
            if kind == "close":
                return value
        return None


@dataclass
class Case:
    """What a joined client sends, and exactly which frames the router must answer with.

    ``fast`` says whether the first frame is one the fast path takes when it
    arrives whole (so the test can check which path really ran).
    """

    name: str
    data: bytes
    expect: list
    fast: bool = False


ANSWER = ("wamp", 8)  # the router's ERROR to a CALL of UNANSWERED
PROTOCOL_ERROR = [("close", 1002)]
INVALID_PAYLOAD = [("close", 1007)]
CALL_TEXT = json.dumps([48, 1, {}, UNANSWERED]).encode("utf-8")
PING_125 = bytes(range(125))


def _fragments(payload, sizes, opcode=TEXT):
    """``payload`` as a fragmented message cut at ``sizes``, first frame ``opcode``, the rest continuations."""
    frames, pos = [], 0
    for i, size in enumerate(sizes):
        frames.append(client_frame(opcode if i == 0 else CONTINUATION, payload[pos:pos + size], fin=False))
        pos += size
    frames.append(client_frame(CONTINUATION, payload[pos:]))
    return frames


def _utf8_call(s):
    """A CALL whose argument holds ``s`` as UTF-8."""
    return json.dumps([48, 1, {}, UNANSWERED, [[s]]], ensure_ascii=False).encode("utf-8")


BAD_UTF8 = {
    "invalid-byte": b"\xff",
    "surrogate": b"\xed\xa0\x80",
    "overlong": b"\xc0\xaf",
    "truncated": b"\xe2\x82",
    "beyond-u10ffff": b"\xf4\x90\x80\x80",
}


def _bad_utf8_call(bad):
    return b'[48, 1, {}, "' + UNANSWERED.encode("ascii") + b'", [["' + bad + b'"]]]'


CASES = [
    Case("call", call(1), [ANSWER], fast=True),
    Case("call-126-length", text([48, 1, {}, UNANSWERED, [["x" * 200]]]), [ANSWER], fast=True),
    Case("fragmented-text", b"".join(_fragments(CALL_TEXT, [5, 10])), [ANSWER]),
    Case("fragments-of-one-byte", b"".join(_fragments(CALL_TEXT, [1] * (len(CALL_TEXT) - 1))), [ANSWER]),
    Case("utf8-split-inside-a-code-point", b"".join(_fragments(_utf8_call("é☃"), [len(_utf8_call("é☃")) - 6])),
         [ANSWER]),
    Case("ping-between-fragments",
         b"".join(_fragments(CALL_TEXT, [5])[:1] + [client_frame(PING, b"mid")] + _fragments(CALL_TEXT, [5])[1:]),
         [("pong", b"mid"), ANSWER]),
    Case("pong-between-fragments",
         b"".join(_fragments(CALL_TEXT, [5])[:1] + [client_frame(PONG, b"x")] + _fragments(CALL_TEXT, [5])[1:]),
         [ANSWER]),
    Case("ping-empty", client_frame(PING), [("pong", b"")]),
    Case("ping-125", client_frame(PING, PING_125), [("pong", PING_125)]),
    Case("ping-then-call", client_frame(PING, b"p") + call(1), [("pong", b"p"), ANSWER]),
    Case("call-then-ping", call(1) + client_frame(PING, b"p"), [ANSWER, ("pong", b"p")], fast=True),
    Case("ping-126", client_frame(PING, b"x" * 126), PROTOCOL_ERROR),
    Case("ping-fragmented", client_frame(PING, b"x", fin=False), PROTOCOL_ERROR),
    *[Case(f"rsv-{rsv}", text([48, 1, {}, UNANSWERED], rsv=rsv), PROTOCOL_ERROR) for rsv in (1, 2, 4, 7)],
    Case("rsv-on-ping", client_frame(PING, b"x", rsv=4), PROTOCOL_ERROR),
    *[Case(f"opcode-{op}", client_frame(op, b"x"), PROTOCOL_ERROR) for op in (3, 4, 5, 6, 7)],
    *[Case(f"opcode-{op}", client_frame(op, b"x"), PROTOCOL_ERROR) for op in (11, 12, 13, 14, 15)],
    Case("continuation-without-start", client_frame(CONTINUATION, CALL_TEXT), PROTOCOL_ERROR),
    Case("text-inside-fragmented", client_frame(TEXT, b"[48,", fin=False) + call(1), PROTOCOL_ERROR),
    Case("unmasked-text", text([48, 1, {}, UNANSWERED], masked=False), PROTOCOL_ERROR),
    Case("unmasked-ping", client_frame(PING, b"x", masked=False), PROTOCOL_ERROR),
    Case("non-minimal-16-bit-length", text([48, 1, {}, UNANSWERED], length_form=126), PROTOCOL_ERROR),
    Case("non-minimal-64-bit-length", text([48, 1, {}, UNANSWERED], length_form=127), PROTOCOL_ERROR),
    Case("64-bit-length-msb-set", bytes((0x81, 0xFF)) + struct.pack("!Q", 1 << 63) + MASK, PROTOCOL_ERROR),
    *[Case(f"text-{name}", client_frame(TEXT, _bad_utf8_call(bad)), INVALID_PAYLOAD, fast=True)
      for name, bad in BAD_UTF8.items()],
    Case("text-bad-utf8-in-a-fragment", b"".join(_fragments(_bad_utf8_call(b"\xff"), [10])), INVALID_PAYLOAD),
    Case("text-ends-inside-a-code-point", b"".join(_fragments(_utf8_call("x")[:-4] + b"\xe2\x82", [4])),
         INVALID_PAYLOAD),
    Case("nothing-after-a-failure", text([48, 1, {}, "x"], rsv=4) + call(2), PROTOCOL_ERROR),
    Case("nothing-after-bad-utf8", client_frame(TEXT, _bad_utf8_call(b"\xff")) + call(2), INVALID_PAYLOAD, fast=True),
    Case("close-empty", close_frame(), [("close", 1000)]),
    *[Case(f"close-{code}", close_frame(code, b"bye"), [("close", 1000)]) for code in (1000, 1001, 1011, 3000, 4999)],
    *[Case(f"close-invalid-{code}", close_frame(code), PROTOCOL_ERROR)
      for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535)],
    Case("close-one-byte", client_frame(CLOSE, b"\x03"), PROTOCOL_ERROR),
    Case("close-reason-bad-utf8", close_frame(1000, b"\xff\xfe"), INVALID_PAYLOAD),
    Case("close-too-long", close_frame(1000, b"x" * 124), PROTOCOL_ERROR),
    Case("nothing-after-close", close_frame(1000) + call(2), [("close", 1000)]),
]
