"""
Autobahn's WebSocket debug messages, formatted only when one is written.

Autobahn's WebSocket protocol pretty-prints two debug messages per connection
(its config attributes, the transport details) before the logger decides to drop
them: about a fifth of the router's CPU per join in a reconnect storm.
:func:`format_debug_only_when_logged` (called by the Router's constructor)
makes that text only when a debug message is actually written.
"""
import pprint

from autobahn.websocket import protocol as _ws_protocol


class _LazyPformat:
    """``pprint.pformat(obj)``, computed when (and if) the log line is formatted."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def __str__(self):
        return pprint.pformat(self._obj)

    def __format__(self, spec):
        return format(str(self), spec)


def _timings_str(timings):
    return pprint.pformat(timings._timings)


def format_debug_only_when_logged() -> None:
    """Patch Autobahn's WebSocket protocol module (idempotent); ``Timings.__str__`` keeps returning a real string."""
    if _ws_protocol.pformat is not _LazyPformat:
        _ws_protocol.pformat = _LazyPformat
        _ws_protocol.Timings.__str__ = _timings_str
