"""
Taking in the broker's frames: confirms and deliveries without txamqp's machinery.

txamqp hands every frame through an inlineCallbacks coroutine, a channel
lock, two DeferredQueues and a worker coroutine, and reads a message's
content with one more coroutine per frame. For a publisher in confirm mode
that is one basic.ack per publication, and for a consumer three frames per
message: by profile most of what the AMQP link cost the node. The frames on
that path (basic.ack, basic.nack, basic.deliver and the content that follows
it) are simple to read directly; every other frame (replies to our methods,
channel and connection close, heartbeats) goes to txamqp as before, in the
order it came.
"""
import struct
from types import SimpleNamespace

from wampchat.amqp.content_header import decode_basic_header, read_shortstr
from wampchat.amqp.frames import CLASS_BASIC, FRAME_BODY, FRAME_END, FRAME_HEAD, FRAME_HEADER, FRAME_METHOD

_METHOD_HEAD = struct.Struct("!HH")
_TAG_AND_BITS = struct.Struct("!QB")
_BASIC_DELIVER, _BASIC_ACK, _BASIC_NACK = (CLASS_BASIC, 60), (CLASS_BASIC, 80), (CLASS_BASIC, 120)


class FrameEnd(ValueError):
    """A frame that does not end with frame-end: the stream is broken and the connection must go."""


def _deliver_args(data, pos):
    """basic.deliver's consumer-tag, delivery-tag, redelivered, exchange and routing-key."""
    consumer_tag, pos = read_shortstr(data, pos)
    delivery_tag, bits = _TAG_AND_BITS.unpack_from(data, pos)
    exchange, pos = read_shortstr(data, pos + 9)
    routing_key, _ = read_shortstr(data, pos)
    return SimpleNamespace(consumer_tag=consumer_tag, delivery_tag=delivery_tag, redelivered=bool(bits & 1),
                           exchange=exchange, routing_key=routing_key, content=None)


class _Incoming:
    """A basic.deliver whose content header and body are still arriving."""

    __slots__ = ("message", "size", "properties", "chunks", "received")

    def __init__(self, message):
        self.message = message
        self.size = None
        self.properties = None
        self.chunks = []
        self.received = 0


class DirectReceive:
    """Mixed into txamqp's AMQClient (before it): reads the hot frames itself and hands them to ``self.link``."""

    _unread = b""
    _incoming = None

    def dataReceived(self, data):
        if not self.frame_mode:
            return super().dataReceived(data)
        buf = self._unread + data if self._unread else data
        pos, end_of_data = 0, len(buf)
        try:
            while end_of_data - pos >= 8 and not self.paused:
                kind, channel, size = FRAME_HEAD.unpack_from(buf, pos)
                start, end = pos + 7, pos + 7 + size
                if end >= end_of_data:
                    if end_of_data - pos > self.MAX_LENGTH:  # as txamqp: more buffered than a frame may hold
                        self._unread = b""
                        return self.frameLengthExceeded(buf[pos:])
                    break
                if buf[end] != FRAME_END:
                    raise FrameEnd(f"AMQP frame on channel {channel} does not end with frame-end")
                frame_bytes, pos = buf[pos:end + 1], end + 1
                if self._read_directly(kind, channel, buf, start, size):
                    continue
                why = self.frame_received(self._unpack_frame(frame_bytes))
                if why or (self.transport is not None and self.transport.disconnecting):
                    self._unread = buf[pos:]
                    return why
        finally:
            if self.heartbeatInterval > 0 and not self.closed:
                self.reschedule_check_heartbeat()
        self._unread = buf[pos:]
        return None

    def _read_directly(self, kind, channel, buf, start, size):
        """Handle a frame on the hot path and say True, or say False and leave it to txamqp."""
        incoming = self._incoming.get(channel) if self._incoming else None
        if incoming is not None:
            if kind == FRAME_HEADER:
                incoming.size, incoming.properties = decode_basic_header(self.spec, buf[start:start + size])
            elif kind == FRAME_BODY:
                incoming.chunks.append(buf[start:start + size])
                incoming.received += size
            else:
                return False  # cannot happen on a sound stream; txamqp will complain about it
            if incoming.size is not None and incoming.received >= incoming.size:
                del self._incoming[channel]
                message = incoming.message
                message.content = SimpleNamespace(properties=incoming.properties, body=b"".join(incoming.chunks))
                self.link._delivered(self, self.channels.get(channel), message)
            return True
        if kind != FRAME_METHOD or size < 4:
            return False
        method = _METHOD_HEAD.unpack_from(buf, start)
        if method == _BASIC_ACK:
            tag, bits = _TAG_AND_BITS.unpack_from(buf, start + 4)
            self.link._confirmed(self, tag, bool(bits & 1))
        elif method == _BASIC_NACK:
            tag, bits = _TAG_AND_BITS.unpack_from(buf, start + 4)
            self.link._nacked(self, tag, bool(bits & 1))
        elif method == _BASIC_DELIVER:
            if self._incoming is None:
                self._incoming = {}
            self._incoming[channel] = _Incoming(_deliver_args(buf, start + 4))
        else:
            return False
        return True
