"""
``POST /hooks/<id>/<secret>``: incoming webhooks (API §11), handed to the chat runtime's webhook service.

The service (``service``, set by the chat runtime while it serves; 503 before)
answers ``receive(hook_id, secret, body bytes)`` with Deferred (status, JSON
body). A body over :data:`MAX_BODY` is 413; any method but POST 405.
"""
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from wampchat.web.api import answer, finish

MAX_BODY = 16 * 1024
log = Logger()


class HooksResource(Resource):
    """``/hooks/...``."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.service = None

    def render(self, request):
        path = [p.decode("utf-8") for p in request.postpath]
        if len(path) != 2 or not all(path):
            return answer(request, 404, {"error": "wampchat.error.not_found", "args": ["no such webhook"]})
        if request.method != b"POST":
            request.setHeader(b"allow", b"POST")
            return answer(request, 405, {"error": "wampchat.error.invalid_argument", "args": ["POST a message"]})
        if self.service is None:
            return answer(request, 503, {"error": "wampchat.error.unavailable", "args": ["the chat is not ready"]})
        request.content.seek(0)
        data = request.content.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            return answer(request, 413, {"error": "wampchat.error.invalid_argument",
                                         "args": [f"the body may have at most {MAX_BODY} bytes"]})
        d = defer.ensureDeferred(self.service.receive(path[0], path[1], data))
        d.addCallback(lambda result: finish(request, answer(request, *result)))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    @staticmethod
    def _failed(failure, request):
        log.failure("a webhook request failed", failure)
        finish(request, answer(request, 503, {"error": "wampchat.error.unavailable", "args": ["try again"]}))
