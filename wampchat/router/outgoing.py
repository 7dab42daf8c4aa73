"""
The two messages every routed call sends, INVOCATION and RESULT, built the cheap way.

Autobahn's message constructors check each field with an ``assert`` and its
``marshal`` reads each through a property: together about as much CPU as
packing the message. The router builds these two from values it has
already checked (a parsed CALL or YIELD, its own IDs), so these subclasses
set the same attributes without the checks and keep the raw message they
will be marshalled to. They are Autobahn's classes still, so an in-process
peer (``attach_local``) reads them as it reads any message, and the bytes
on the wire are the same as Autobahn's (tests/test_router_messages.py).
"""
from typing import Any, Optional

from autobahn.wamp import message

_Message = message.Message


def _app_payload(raw: list, args: Optional[list], kwargs: Optional[dict]) -> list:
    """``raw`` with the arguments appended the way Autobahn's ``marshal`` appends them."""
    if kwargs:
        raw.append(args)
        raw.append(kwargs)
    elif args:
        raw.append(args)
    return raw


class RoutedInvocation(message.Invocation):
    """INVOCATION of a CALL the router has parsed (so its arguments are already checked)."""

    def __init__(self, request: int, registration: int, args: Optional[list], kwargs: Optional[dict],
                 receive_progress: Optional[bool], caller: Optional[int], caller_authid: Optional[str],
                 caller_authrole: Optional[str], procedure: Optional[str]) -> None:
        _Message.__init__(self)
        self._init_app_payload(args=args, kwargs=kwargs)
        self._forward_for = None
        self._request, self._registration, self._timeout = request, registration, None
        self._receive_progress, self._procedure, self._transaction_hash = receive_progress, procedure, None
        self._caller, self._caller_authid, self._caller_authrole = caller, caller_authid, caller_authrole
        details: dict = {}
        if receive_progress is not None:
            details["receive_progress"] = receive_progress
        if caller is not None:
            details["caller"] = caller
        if caller_authid is not None:
            details["caller_authid"] = caller_authid
        if caller_authrole is not None:
            details["caller_authrole"] = caller_authrole
        if procedure is not None:
            details["procedure"] = procedure
        self._raw = _app_payload([message.Invocation.MESSAGE_TYPE, request, registration, details], args, kwargs)

    def marshal(self) -> list:
        return self._raw


class RoutedResult(message.Result):
    """RESULT of a call, from a YIELD the router has parsed or from its own procedures."""

    def __init__(self, request: int, args: Optional[list] = None, kwargs: Optional[dict] = None,
                 progress: Optional[bool] = None) -> None:
        _Message.__init__(self)
        self._init_app_payload(args=args, kwargs=kwargs)
        self._forward_for = None
        self._request, self._progress = request, progress
        self._callee = self._callee_authid = self._callee_authrole = None
        details: Any = {"progress": progress} if progress is not None else {}
        self._raw = _app_payload([message.Result.MESSAGE_TYPE, request, details], args, kwargs)

    def marshal(self) -> list:
        return self._raw
