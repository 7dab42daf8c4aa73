"""
What the registration and subscription meta APIs share: reading their arguments, describing an entry, and
the rules for their events (see :mod:`wampchat.router.registration_meta` and
:mod:`wampchat.router.subscription_meta`).

Like the session meta API (:mod:`wampchat.router.meta`), the procedures are answered by the dealer itself,
the events go through the broker, and by default only ``admin``, ``service`` and in-process (``trusted``)
sessions may use them (:mod:`wampchat.router.config`).

Events are about this node's sessions: the session id in an event is the one that caused it, or null when
another node's callees did (one router across nodes); the ``wamp.`` topics themselves (the meta API's own
subscriptions) raise no events, so a meta subscriber is not told about its own meta subscriptions.
"""
from datetime import datetime, timezone
from typing import Any, Optional

from autobahn.wamp.exception import ApplicationError

from wampchat.router.incoming_values import as_id
from wampchat.router.matching import MATCH_EXACT, MATCH_POLICIES


def iso_time(seconds: float) -> str:
    """``seconds`` (Unix time) as ISO 8601 in UTC with milliseconds, as Crossbar writes ``created``."""
    stamp = datetime.fromtimestamp(seconds, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def announced(uri: str) -> bool:
    """Are changes to the entry for ``uri`` published as meta events? Not for the ``wamp.`` namespace."""
    return not uri.startswith("wamp.")


def session_id(session) -> Optional[int]:
    """The id to name ``session`` by in an event: None for another node's callees (or no session)."""
    if session is None or getattr(session, "remote", False):
        return None
    return session.info.id


def uri_arg(args: list, kwargs: dict, name: str) -> str:
    """The URI the caller asks about (``args[0]`` or kw ``name``); invalid_argument unless a string."""
    uri = args[0] if args else kwargs.get(name)
    if not isinstance(uri, str):
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT, f"{name} must be a string (a URI)")
    return uri


def match_option(args: list, kwargs: dict) -> str:
    """``options.match`` of a lookup (``args[1]`` or kw ``options``), ``exact`` when not given."""
    options = args[1] if len(args) > 1 else kwargs.get("options")
    if options is None:
        return MATCH_EXACT
    if not isinstance(options, dict):
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT, "options must be a dict")
    match = options.get("match", MATCH_EXACT)
    if match not in MATCH_POLICIES:
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT,
                               f"options.match must be one of {', '.join(MATCH_POLICIES)}")
    return match


def id_arg(args: list, kwargs: dict, name: str) -> int:
    """The registration or subscription id asked about (``args[0]`` or kw ``name``)."""
    value = as_id(args[0] if args else kwargs.get(name))  # 1234.0 from wampy over CBOR is the id 1234
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApplicationError(ApplicationError.INVALID_ARGUMENT, f"{name} must be an integer")
    return value


def ids_by_match(entries) -> dict:
    """``{exact: [ids], prefix: [ids], wildcard: [ids]}`` of ``entries`` (a PatternMap)."""
    found: dict = {policy: [] for policy in MATCH_POLICIES}
    for entry in entries:
        found[entry.match].append(entry.id)
    return found


def describe(entry: Any, **extra: Any) -> dict:
    """``{id, created, uri, match}`` plus ``extra``: what ``get`` answers and ``on_create`` carries."""
    return {"id": entry.id, "created": iso_time(entry.created), "uri": entry.uri, "match": entry.match, **extra}


class MetaEvents:
    """Publishes one family's events (``wamp.registration.`` or ``wamp.subscription.``) through the broker."""

    def __init__(self, realm, prefix: str) -> None:
        self._realm = realm
        self._prefix = prefix

    def created(self, session, details: dict) -> None:
        self._publish("on_create", [session_id(session), details])

    def joined(self, session, entry_id: int, event: str) -> None:
        """``on_register``/``on_subscribe``: only for this node's sessions (another node's have no id here)."""
        if session_id(session) is not None:
            self._publish(event, [session_id(session), entry_id])

    def left(self, session, entry_id: int, event: str) -> None:
        """``on_unregister``/``on_unsubscribe``: only for this node's sessions."""
        self.joined(session, entry_id, event)

    def deleted(self, session, entry_id: int) -> None:
        self._publish("on_delete", [session_id(session), entry_id])

    def _publish(self, event: str, args: list) -> None:
        self._realm.broker.publish_internal(self._prefix + event, args)
