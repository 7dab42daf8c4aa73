"""
The HTTP API's way into the realm (API §11): a call or a publication made for an API token's user, as that
user's WAMP session would make it.

Each request gets a stand-in session (:class:`RequestSession`) with the token's
authid and role: the realm's join hooks run first (a banned user is refused as
at login), then the request is authorized by the realm's rules and roles and
routed by the dealer or broker, so permissions, chat rules and the chat
service's rate limits are exactly a WAMP session's. The stand-in is never
joined: no one sees it in the session meta API or in presence.
"""
from typing import Optional

from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError, InvalidUriError, ProtocolError
from twisted.internet import defer

from wampchat.router.broker import Audience
from wampchat.router.ids import global_id
from wampchat.router.inprocess import InternalCaller
from wampchat.router.session_info import SessionInfo

DEFAULT_TIMEOUT_MS = 30000    # a call with no (or a longer) timeout is cut off after this: HTTP clients wait
INVALID_ARGUMENT = "wamp.error.invalid_argument"


_STATUS = ((".invalid_argument", 400), ("wamp.error.invalid_", 400), (".not_authorized", 403),
           (".forbidden", 403), (".authorization_failed", 403), (".banned", 403), (".no_such_", 404),
           (".not_found", 404), (".rate_limited", 429), ("wamp.error.timeout", 504), ("wamp.error.canceled", 504),
           (".conflict", 409), (".unavailable", 503))


def status_of(error: str) -> int:
    """The HTTP status of a WAMP error URI; 502 for one it does not know (the callee's own error)."""
    for part, status in _STATUS:
        if part in error:
            return status
    return 502


class BadRequest(ValueError):
    """The request body does not make a WAMP CALL or PUBLISH (``status``: the HTTP status to answer)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


def _parse(kind, uri, body: dict):
    """A CALL or PUBLISH built from the body's fields, checked by Autobahn's parser as if it came over WAMP."""
    args, kwargs, options = body.get("args", []), body.get("kwargs", {}), body.get("options", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict) or not isinstance(options, dict):
        raise BadRequest("args must be a list, kwargs and options objects")
    try:
        return kind.parse([kind.MESSAGE_TYPE, 1, options, uri, args, kwargs])
    except (ProtocolError, InvalidUriError, ValueError, TypeError, AttributeError, AssertionError) as e:
        raise BadRequest(str(e)) from e


def call_message(body: dict):
    """The CALL of a ``/api/call`` body ``{procedure, args, kwargs, options}``; BadRequest if it makes none."""
    msg = _parse(message.Call, body.get("procedure"), body)
    if not msg.timeout or msg.timeout > DEFAULT_TIMEOUT_MS:
        msg.timeout = DEFAULT_TIMEOUT_MS
    msg.receive_progress = None
    return msg


def publish_message(body: dict):
    """The PUBLISH of a ``/api/publish`` body ``{topic, args, kwargs, options}``; BadRequest if it makes none."""
    return _parse(message.Publish, body.get("topic"), body)


class RequestSession(InternalCaller):
    """One HTTP request's stand-in for a session of (authid, authrole)."""

    def __init__(self, realm, authid: str, authrole: str, peer: str) -> None:
        super().__init__(realm, authid, authrole)
        self.info = SessionInfo(global_id(), realm.name, authid, authrole, "token", "wampchat", {},
                                {"type": "http", "peer": peer})

    @defer.inlineCallbacks
    def call(self, msg):
        """Deferred of (args, kwargs); fails with ApplicationError as a WAMP caller would get it."""
        yield self.realm.run_join_hooks(self.info)
        result = yield self.call_message(msg)
        return result

    @defer.inlineCallbacks
    def publish(self, msg):
        """Deferred of the publication id; fails with ApplicationError (not_authorized, invalid_uri)."""
        yield self.realm.run_join_hooks(self.info)
        self._refuse_reserved(msg.topic)
        realm = self.realm
        allowed = yield realm.authorizer.authorize(self.info, msg.topic, "publish", "exact")
        if not allowed:
            realm.metrics.denials.value += 1
            raise ApplicationError(ApplicationError.NOT_AUTHORIZED, f"not authorized to publish {msg.topic!r}")
        disclose = realm.authorizer.role_setting(self.info.authrole, "disclose", True)
        pub_id = realm.broker.publish_from(self.info, msg.topic, msg.args, msg.kwargs, disclose, None,
                                           Audience.of(msg))
        realm.metrics.publications.value += 1
        return pub_id

    def _refuse_reserved(self, uri: str) -> None:
        if uri.startswith("wamp."):
            raise ApplicationError(ApplicationError.INVALID_URI, f"{uri!r}: the wamp. namespace is the router's")


class HttpBridge:
    """Finds an API token's user and runs requests as that user in ``realm``."""

    def __init__(self, router, realm_name: str) -> None:
        self._router = router
        self._realm_name = realm_name

    @defer.inlineCallbacks
    def identity(self, token: str):
        """(authid, role) of the token's live user, or None; CredentialsUnavailable while the store is away."""
        credentials = self._router.credentials
        user = yield credentials.token_user(token)
        creds = None if user is None else (yield credentials.get_credentials(user))
        return None if creds is None else (creds.authid, creds.role)

    def session(self, authid: str, authrole: str, peer: str) -> Optional[RequestSession]:
        realm = self._router.get_realm(self._realm_name)
        return None if realm is None else RequestSession(realm, authid, authrole, peer)
