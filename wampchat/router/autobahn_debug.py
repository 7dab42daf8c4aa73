"""
Autobahn's WebSocket debug messages, formatted only when one is written.

Autobahn's WebSocket protocol pretty-prints two debug messages per connection
(its config attributes, the transport details) before the logger decides to drop
them: about a fifth of the router's CPU per join in a reconnect storm.
:func:`format_debug_only_when_logged` (called by the Router's constructor)
makes that text only when a debug message is actually written. The same goes
for the highlighted names and values (``hltype``, ``hlval``) its debug lines
carry: seven per join, about 3% of a join's CPU.
"""
import pprint
from typing import Any

from autobahn import util as _util
from autobahn.twisted import websocket as _tx_websocket
from autobahn.wamp import websocket as _wamp_websocket
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


class _Lazy:
    """``fn(*args)`` (Autobahn's highlighting of a name or value), computed when (and if) a log line is formatted."""

    __slots__ = ("_fn", "_args", "_kwargs")

    def __init__(self, fn, args, kwargs):
        self._fn = fn
        self._args = args
        self._kwargs = kwargs

    def __str__(self):
        return str(self._fn(*self._args, **self._kwargs))

    def __format__(self, spec):
        return format(str(self), spec)


def _lazy_hltype(*args, **kwargs):
    return _Lazy(_util.hltype, args, kwargs)


def _lazy_hlval(*args, **kwargs):
    return _Lazy(_util.hlval, args, kwargs)


def _timings_str(timings):
    return pprint.pformat(timings._timings)


def format_debug_only_when_logged() -> None:
    """Patch Autobahn's WebSocket protocol module (idempotent); ``Timings.__str__`` keeps returning a real string."""
    # patching another library's module: what mypy's view of those modules cannot allow, on purpose
    ws_protocol: Any = _ws_protocol
    if ws_protocol.pformat is not _LazyPformat:
        ws_protocol.pformat = _LazyPformat
        ws_protocol.Timings.__str__ = _timings_str
    for module in (ws_protocol, _tx_websocket, _wamp_websocket):
        patched: Any = module
        if hasattr(patched, "hltype"):
            patched.hltype = _lazy_hltype
        patched.hlval = _lazy_hlval
