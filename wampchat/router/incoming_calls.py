"""
CALL and YIELD in their everyday shape, parsed without Autobahn's general parser.

Autobahn's ``parse`` tests every option a CALL or YIELD may carry and then
builds the message through a constructor that asserts each field again:
together several times the cost of decoding the bytes. Most calls carry no
option but ``receive_progress``/``timeout`` (CALL) or ``progress`` (YIELD)
and plain arguments, so for exactly that shape the same checks are made here
once and the message's attributes are set directly. Any other shape (other
options, a payload instead of arguments, a wrong type anywhere) returns None
and goes to Autobahn's parser, which accepts it or refuses it with its own
reason; so what is accepted, and how a bad message is refused, is unchanged.
"""
from typing import Callable, Dict, Optional, Union

from autobahn.wamp import message
from autobahn.wamp.message import check_or_raise_uri

_Message = message.Message
MAX_ID = 2 ** 53
_CALL_OPTIONS = frozenset(("receive_progress", "timeout"))
_YIELD_OPTIONS = frozenset(("progress",))
_VALID_URIS: Dict[str, bool] = {}   # procedures seen valid (a string that passed the check always will)
_MAX_VALID_URIS = 10_000


def _valid_procedure(uri: object) -> bool:
    if type(uri) is not str:
        return False
    if uri in _VALID_URIS:
        return True
    try:
        check_or_raise_uri(uri, "'procedure' in CALL")
    except Exception:  # noqa: BLE001 - Autobahn's parser gives the reason
        return False
    if len(_VALID_URIS) >= _MAX_VALID_URIS:
        _VALID_URIS.clear()
    _VALID_URIS[uri] = True
    return True


def _plain_arguments(raw: list, first: int) -> bool:
    """Positional arguments (a list) at ``first`` and keyword arguments (a dict) after it, each optional."""
    n = len(raw)
    return (n <= first or type(raw[first]) is list) and (n <= first + 1 or type(raw[first + 1]) is dict)


def _init_payload(msg: Union[message.Call, message.Yield], args: Optional[list], kwargs: Optional[dict]) -> None:
    _Message.__init__(msg)
    msg._init_app_payload(args=args, kwargs=kwargs)
    msg._forward_for = None


class ParsedCall(message.Call):
    """A CALL read by :func:`parse_call` (the attributes Autobahn's constructor sets, set directly)."""

    def __init__(self, request: int, procedure: str, args: Optional[list], kwargs: Optional[dict],
                 timeout: Optional[int], receive_progress: Optional[bool]) -> None:
        _init_payload(self, args, kwargs)
        self._request, self._procedure, self._timeout = request, procedure, timeout
        self._receive_progress, self._transaction_hash = receive_progress, None
        self._caller = self._caller_authid = self._caller_authrole = None


class ParsedYield(message.Yield):
    """A YIELD read by :func:`parse_yield`."""

    def __init__(self, request: int, args: Optional[list], kwargs: Optional[dict], progress: Optional[bool]) -> None:
        _init_payload(self, args, kwargs)
        self._request, self._progress = request, progress
        self._callee = self._callee_authid = self._callee_authrole = None


def parse_call(raw: list) -> Optional[message.Call]:
    """``[CALL, request, options, procedure, args?, kwargs?]`` with only the everyday options, or None."""
    if not 4 <= len(raw) <= 6:
        return None
    request, options, procedure = raw[1], raw[2], raw[3]
    if type(request) is not int or not 0 <= request <= MAX_ID or type(options) is not dict:
        return None
    if options and not _CALL_OPTIONS.issuperset(options):
        return None
    timeout, progress = options.get("timeout"), options.get("receive_progress")
    if (timeout is not None and (type(timeout) is not int or timeout < 0)) or \
            (progress is not None and type(progress) is not bool) or \
            ("timeout" in options and timeout is None) or ("receive_progress" in options and progress is None):
        return None
    if not _plain_arguments(raw, 4) or not _valid_procedure(procedure):
        return None
    return ParsedCall(request, procedure, raw[4] if len(raw) > 4 else None, raw[5] if len(raw) > 5 else None,
                      timeout, progress)


def parse_yield(raw: list) -> Optional[message.Yield]:
    """``[YIELD, request, options, args?, kwargs?]`` with at most the ``progress`` option, or None."""
    if not 3 <= len(raw) <= 5:
        return None
    request, options = raw[1], raw[2]
    if type(request) is not int or not 0 <= request <= MAX_ID or type(options) is not dict:
        return None
    if options and not _YIELD_OPTIONS.issuperset(options):
        return None
    progress = options.get("progress")
    if ("progress" in options and type(progress) is not bool) or not _plain_arguments(raw, 3):
        return None
    return ParsedYield(request, raw[3] if len(raw) > 3 else None, raw[4] if len(raw) > 4 else None, progress)


CALL_PARSERS: Dict[int, Callable[[list], Optional[_Message]]] = {
    message.Call.MESSAGE_TYPE: parse_call,
    message.Yield.MESSAGE_TYPE: parse_yield,
}
