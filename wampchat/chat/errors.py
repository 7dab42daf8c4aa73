"""
The API's error URIs, and how a procedure refuses with one.

Every refusal is an ``ApplicationError`` with one of these URIs, so a
procedure can refuse in one line and the caller gets an error it can act on.
"""
from typing import NoReturn

from autobahn.wamp.exception import ApplicationError

INVALID = "wampchat.error.invalid_argument"
NOT_FOUND = "wampchat.error.not_found"
FORBIDDEN = "wampchat.error.forbidden"
CONFLICT = "wampchat.error.conflict"
RATE_LIMITED = "wampchat.error.rate_limited"
UNAVAILABLE = "wampchat.error.unavailable"


def fail(uri: str, text: str) -> NoReturn:
    """Raise the API error ``uri``; the router sends it to the caller as a WAMP ERROR."""
    raise ApplicationError(uri, text)


def rate_limited(text: str, retry_after: float) -> NoReturn:
    """Refuse with rate_limited, telling the caller when it may try again (kwarg ``retry_after``, seconds)."""
    raise ApplicationError(RATE_LIMITED, text, retry_after=round(retry_after, 3))
