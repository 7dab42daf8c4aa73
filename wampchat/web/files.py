"""
``/files``: the HTTP side of chat files (API §9), over whatever file service the chat runtime hands in.

- ``PUT`` (or ``POST``) ``/files/upload/<id>?token=...``: the bytes of an
  upload, ``201 {"file_id"}``. The body was capped before it was read
  (:class:`~wampchat.web.connections.GuardedHTTPChannel`, 413); the service
  checks the token and the exact size.
- ``GET /files/<id>?exp=...&sig=...[&thumb=1]``: a signed, expiring URL;
  forged or expired is 403, a file gone (its message deleted) 404. Images
  are served ``inline``, everything else as an ``attachment``; always with
  ``nosniff`` and ``Content-Security-Policy: sandbox``, so a file never
  runs as part of the page, even one a browser would take for HTML.

The service (``service``, set by the chat runtime while it serves; 503
before) answers ``receive_upload(file_id, token, data)`` with Deferred
(status, JSON body) and ``download(file_id, thumbnail, exp, sig)`` with
Deferred None (403), False (404) or (name, content type, bytes).
"""
import json
import re
from urllib.parse import quote

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
FILE_HEADERS = [
    (b"Content-Security-Policy", b"sandbox"),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Cache-Control", b"private, max-age=3600"),
]
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")
log = Logger()


def content_disposition(name: str, inline: bool) -> bytes:
    """RFC 6266: an ASCII fallback filename and the exact UTF-8 one (``filename*``)."""
    fallback = _UNSAFE.sub("_", name) or "file"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}".encode("ascii")


def _arg(request, name: bytes) -> str:
    values = request.args.get(name) or [b""]
    return values[0].decode("utf-8", "replace")


class FilesResource(Resource):
    """``/files/...``: uploads and downloads, handed to ``service``."""

    isLeaf = True

    def __init__(self, max_upload: int) -> None:
        super().__init__()
        self.max_upload = max_upload
        self.service = None

    def render(self, request):
        if self.service is None:
            return self._answer(request, 503, {"error": "the chat service is not ready"})
        path = [p.decode("utf-8") for p in request.postpath]
        if request.method in (b"PUT", b"POST"):
            if len(path) != 2 or path[0] != "upload":
                return self._answer(request, 404, {"error": "no such upload URL"})
            return self._upload(request, path[1])
        if len(path) != 1 or not path[0]:
            return self._answer(request, 404, {"error": "no such file"})
        return self._download(request, path[0])

    def _upload(self, request, file_id):
        request.content.seek(0)
        data = request.content.read(self.max_upload + 1)
        if len(data) > self.max_upload:
            return self._answer(request, 413, {"error": f"a file may have at most {self.max_upload} bytes"})
        d = self.service.receive_upload(file_id, _arg(request, b"token"), data)
        d.addCallback(lambda answer: self._finish(request, self._answer(request, *answer)))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _download(self, request, file_id):
        thumbnail = _arg(request, b"thumb") == "1"
        d = self.service.download(file_id, thumbnail, _arg(request, b"exp"), _arg(request, b"sig"))
        d.addCallback(self._send_file, request)
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _send_file(self, found, request):
        if found is None:
            return self._finish(request, self._answer(request, 403, {"error": "this file URL is forged or expired"}))
        if found is False:
            return self._finish(request, self._answer(request, 404, {"error": "no such file"}))
        name, content_type, data = found
        for header, value in FILE_HEADERS:
            request.responseHeaders.setRawHeaders(header, [value])
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"content-disposition", content_disposition(name, content_type in INLINE_TYPES))
        request.setHeader(b"content-length", b"%d" % len(data))
        self._finish(request, data)

    def _failed(self, failure, request):
        log.failure("a file request failed", failure)
        self._finish(request, self._answer(request, 503, {"error": "the file could not be handled; try again"}))

    def _answer(self, request, code, body):
        """A JSON answer's body, its status and headers set."""
        data = json.dumps(body).encode("utf-8")
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"content-length", b"%d" % len(data))
        request.setHeader(b"cache-control", b"no-store")
        return data

    @staticmethod
    def _finish(request, data):
        if request.finished or request._disconnected:
            return
        request.write(data)
        request.finish()
