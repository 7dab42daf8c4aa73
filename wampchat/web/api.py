"""
The HTTP API (API §11), like Crossbar's HTTP bridge: ``POST /api/publish`` and ``POST /api/call`` with
``Authorization: Bearer <API token>``, run as the token's user (:mod:`wampchat.router.http_bridge`).

Answers are JSON: ``{id}`` for a publication, ``{args, kwargs}`` for a call's
result, ``{error, args, kwargs}`` for a WAMP error, with the status
:func:`status_of` gives it. No, a malformed, unknown or revoked token is 401;
a body over :data:`MAX_BODY` 413; a body that is not a JSON object 400; a
method other than POST 405; more than :data:`RATE` requests per token 429.
"""
import json

from autobahn.wamp.exception import ApplicationError
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from wampchat.router.credentials import CredentialsUnavailable
from wampchat.router.http_bridge import INVALID_ARGUMENT, BadRequest, call_message, publish_message, status_of
from wampchat.router.login_limits import Buckets, Rate
from wampchat.router.tokens import token_id

MAX_BODY = 64 * 1024
RATE = Rate(burst=40, refill=0.05)    # per token: 40 at once, then 20 a second
log = Logger()

def bearer_token(request) -> str:
    """The token of an ``Authorization: Bearer`` header, or ""."""
    header = (request.getHeader(b"authorization") or b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ApiResource(Resource):
    """``/api/publish`` and ``/api/call``."""

    isLeaf = True

    def __init__(self, bridge, clock) -> None:
        super().__init__()
        self._bridge = bridge
        self._buckets = Buckets(clock, RATE, capacity=10_000)
        self._kinds = {"publish": (publish_message, self._publish), "call": (call_message, self._call)}

    def render(self, request):
        kind = self._kinds.get("/".join(p.decode("utf-8") for p in request.postpath))
        if kind is None:
            return answer(request, 404, {"error": "wamp.error.no_such_procedure", "args": ["no such API path"]})
        if request.method != b"POST":
            request.setHeader(b"allow", b"POST")
            return answer(request, 405, {"error": INVALID_ARGUMENT, "args": ["only POST is allowed here"]})
        token = bearer_token(request)
        if token_id(token) is None:
            return self._unauthorized(request)
        if not self._buckets.take(token_id(token)):
            retry = self._buckets.retry_after(token_id(token))
            request.setHeader(b"retry-after", b"%d" % max(1, round(retry)))
            return answer(request, 429, {"error": "wampchat.error.rate_limited", "args": ["too many requests"],
                                         "kwargs": {"retry_after": round(retry, 3)}})
        try:
            msg = kind[0](read_json(request))
        except BadRequest as e:
            return answer(request, e.status, {"error": INVALID_ARGUMENT, "args": [str(e)]})
        d = self._bridge.identity(token)
        d.addCallback(self._run, request, kind[1], msg)
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _run(self, identity, request, run, msg):
        if identity is None:
            return finish(request, self._unauthorized(request))
        peer = request.getClientAddress()
        session = self._bridge.session(identity[0], identity[1], f"http:{getattr(peer, 'host', peer)}")
        return run(session, msg).addCallback(lambda body: finish(request, answer(request, 200, body)))

    @staticmethod
    def _publish(session, msg):
        return session.publish(msg).addCallback(lambda pub_id: {"id": pub_id})

    @staticmethod
    def _call(session, msg):
        return session.call(msg).addCallback(lambda result: {"args": result[0], "kwargs": result[1]})

    @staticmethod
    def _unauthorized(request):
        request.setHeader(b"www-authenticate", b'Bearer realm="wampchat"')
        return answer(request, 401, {"error": "wamp.error.not_authorized",
                                     "args": ["a valid API token is needed: Authorization: Bearer <token>"]})

    @staticmethod
    def _failed(failure, request):
        if failure.check(ApplicationError):
            e = failure.value
            body = {"error": e.error, "args": list(e.args), "kwargs": e.kwargs or {}}
            retry = (e.kwargs or {}).get("retry_after")
            if isinstance(retry, (int, float)):
                request.setHeader(b"retry-after", b"%d" % max(1, round(retry)))
            return finish(request, answer(request, status_of(e.error), body))
        if failure.check(CredentialsUnavailable):
            return finish(request, answer(request, 503, {"error": "wampchat.error.unavailable",
                                                         "args": ["the user database is unavailable"]}))
        log.failure("an HTTP API request failed", failure)
        return finish(request, answer(request, 500, {"error": "wamp.error.runtime_error", "args": []}))


def read_json(request) -> dict:
    """The request's JSON object; BadRequest (413 past MAX_BODY, 400 otherwise) if there is none."""
    request.content.seek(0)
    data = request.content.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise BadRequest(f"the body may have at most {MAX_BODY} bytes", status=413)
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"the body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def answer(request, code: int, body) -> bytes:
    """A JSON answer's bytes (a line: what curl shows ends with a newline), its status and headers set."""
    data = json.dumps(body).encode("utf-8") + b"\n"
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"content-length", b"%d" % len(data))
    request.setHeader(b"cache-control", b"no-store")
    return data


def finish(request, data: bytes) -> None:
    if request.finished or request._disconnected:
        return
    request.write(data)
    request.finish()
