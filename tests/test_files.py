"""Files (API §9): one-use uploads over HTTP, signed expiring downloads, sniffing, image cleaning, and every
refusal, on both stores and across two nodes sharing one PostgreSQL."""
import io
import struct
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from PIL import Image
from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from helpers import read_body
from chatkit import ChatWorld, error_of, make_world, world  # noqa: F401 (fixtures)
from postgres import postgres  # noqa: F401 (fixture)

NOT_FOUND = "wampchat.error.not_found"
FORBIDDEN = "wampchat.error.forbidden"
INVALID = "wampchat.error.invalid_argument"
RATE_LIMITED = "wampchat.error.rate_limited"
GPS_IFD = 0x8825


def runtime(world):
    return world.server.service.getServiceNamed("chat")


@defer.inlineCallbacks
def http(world, method, path, body=None):
    """(status, headers, body) of one real HTTP request to the world's node."""
    producer = FileBodyProducer(io.BytesIO(body)) if body is not None else None
    response = yield Agent(reactor).request(method.encode(), (world.server.http_url + path).encode(), Headers({}),
                                            producer)
    data = yield read_body(response)
    return response.code, response.headers, data


def header(headers, name):
    return (headers.getRawHeaders(name) or [b""])[0].decode()


@defer.inlineCallbacks
def upload(world, session, room, name, data, content_type="application/octet-stream"):
    """Upload ``data`` through chat.file.upload and a PUT; the file id."""
    ticket = yield session.call("chat.file.upload", room, name, content_type, len(data))
    status, _, body = yield http(world, "PUT", ticket["upload_url"], data)
    assert status == 201, body
    return ticket["file_id"]


@defer.inlineCallbacks
def fetch(world, session, file_id, thumbnail=False):
    urls = yield session.call("chat.file.url", file_id)
    assert urls["expires"] >= world.server.router.reactor.seconds() * 1000 + 3600 * 1000 - 1000
    result = yield http(world, "GET", urls["thumbnail_url"] if thumbnail else urls["url"])
    return result


def jpeg_with_gps(size=(800, 600)):
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)   # the test's own image carries GPS
    return data


def png_bomb():
    """A tiny PNG whose header claims 100000 x 100000 pixels."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = bytes(data[12:16]) + struct.pack(">II", 100_000, 100_000) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


@defer.inlineCallbacks
def two_users(world, private=False):
    ann = yield world.user("ann")
    bob = yield world.user("bob")
    yield ann.call("chat.room.create", "pics", private=private)
    if private:
        yield ann.call("chat.room.invite", "pics", "bob")
    return ann, bob


@pytest_twisted.inlineCallbacks
def test_a_text_file_goes_up_with_a_send_and_comes_back_as_an_attachment(world):
    ann, bob = yield two_users(world)
    data = b"hello world\n"
    file_id = yield upload(world, ann, "pics", "notes.txt", data)
    sent = yield ann.call("chat.message.send", "pics", "", files=[file_id])
    assert sent["text"] == ""
    assert sent["files"] == [{"id": file_id, "name": "notes.txt", "size": len(data),
                              "content_type": "text/plain; charset=utf-8"}]
    page = yield bob.call("chat.message.history", "pics")
    assert page["messages"][-1]["files"] == sent["files"]
    joined = yield bob.call("chat.room.join", "pics")
    assert joined["history"][-1]["files"] == sent["files"]
    status, headers, body = yield fetch(world, bob, file_id)
    assert (status, body) == (200, data)
    assert header(headers, b"content-disposition").startswith("attachment;")
    assert header(headers, b"x-content-type-options") == "nosniff"
    assert header(headers, b"content-security-policy") == "sandbox"
    assert header(headers, b"content-type") == "text/plain; charset=utf-8"
    assert (yield error_of(ann.call("chat.message.send", "pics", ""))) == INVALID   # no files: text needed


@pytest_twisted.inlineCallbacks
def test_the_size_must_be_exact_and_the_upload_url_works_once(world):
    ann, _ = yield two_users(world)
    ticket = yield ann.call("chat.file.upload", "pics", "a.bin", "application/octet-stream", 10)
    assert (yield http(world, "PUT", ticket["upload_url"], b"x" * 9))[0] == 400
    assert (yield http(world, "PUT", ticket["upload_url"], b"x" * 11))[0] == 400
    assert (yield http(world, "POST", ticket["upload_url"], b"x" * 10))[0] == 201
    assert (yield http(world, "PUT", ticket["upload_url"], b"x" * 10))[0] == 403
    forged = ticket["upload_url"].replace("token=", "token=A")
    other = yield ann.call("chat.file.upload", "pics", "b.bin", None, 3)
    assert (yield http(world, "PUT", other["upload_url"].split("?")[0] + "?token=nope", b"abc"))[0] == 403
    assert (yield http(world, "PUT", forged, b"x" * 10))[0] == 403
    assert (yield http(world, "PUT", "/files/upload/" + "0" * 32 + "?token=x", b"abc"))[0] == 403
    assert (yield http(world, "DELETE", "/files/upload/" + ticket["file_id"]))[0] == 405
    for bad in ("", "../", "a\x00b", 5):
        assert (yield error_of(ann.call("chat.file.upload", "pics", bad, None, 3))) == INVALID
    for size in (0, -1, 1.5, "3", True):
        assert (yield error_of(ann.call("chat.file.upload", "pics", "x", None, size))) == INVALID


@defer.inlineCallbacks
def raw_http(world, request: bytes):
    """What the node answers to raw request bytes (the connection is closed by the node)."""
    done = defer.Deferred()

    class Raw(protocol.Protocol):
        received = b""

        def connectionMade(self):
            self.transport.write(request)

        def dataReceived(self, data):
            self.received += data

        def connectionLost(self, reason):
            done.callback(self.received)

    yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", world.server.port), Raw())
    answer = yield done
    return answer


@pytest_twisted.inlineCallbacks
def test_uploads_past_max_upload_are_refused_before_the_body_is_read(make_world):
    world = yield make_world(["--max-upload", "1000"])
    ann, _ = yield two_users(world)
    assert (yield error_of(ann.call("chat.file.upload", "pics", "big.bin", None, 1001))) == INVALID
    ticket = yield ann.call("chat.file.upload", "pics", "ok.bin", None, 1000)
    path = ticket["upload_url"].encode()
    # the headers alone (no body is ever sent) get the 413, and the connection is closed
    answer = yield raw_http(world, b"PUT " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")
    chunked = (b"PUT " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"400\r\n" + b"x" * 1024 + b"\r\n") * 2
    assert (yield raw_http(world, chunked)).startswith(b"HTTP/1.1 413")
    assert (yield http(world, "PUT", ticket["upload_url"], b"y" * 1000))[0] == 201   # still unused


@pytest_twisted.inlineCallbacks
def test_an_expired_upload_url_is_refused(world):
    ann, _ = yield two_users(world)
    ticket = yield ann.call("chat.file.upload", "pics", "late.bin", None, 3)
    yield runtime(world).store.database.run(
        lambda tx: tx.execute("UPDATE files SET upload_expires = 0 WHERE id = ?", (ticket["file_id"],)))
    assert (yield http(world, "PUT", ticket["upload_url"], b"abc"))[0] == 403


@pytest_twisted.inlineCallbacks
def test_only_the_uploader_attaches_a_file_and_only_in_its_room(world):
    ann, bob = yield two_users(world)
    yield ann.call("chat.room.create", "other")
    file_id = yield upload(world, bob, "pics", "bob.txt", b"bob's")
    assert (yield error_of(ann.call("chat.message.send", "pics", "mine", files=[file_id]))) == NOT_FOUND
    assert (yield error_of(bob.call("chat.message.send", "other", "here", files=[file_id]))) == NOT_FOUND
    assert (yield error_of(ann.call("chat.file.url", file_id))) == NOT_FOUND   # not sent: the uploader's only
    assert (yield bob.call("chat.file.url", file_id))["url"]
    pending = yield bob.call("chat.file.upload", "pics", "never.txt", None, 4)   # bytes never came
    assert (yield error_of(bob.call("chat.message.send", "pics", "x", files=[pending["file_id"]]))) == NOT_FOUND
    sent = yield bob.call("chat.message.send", "pics", "mine", files=[file_id])
    assert [f["id"] for f in sent["files"]] == [file_id]
    assert (yield error_of(bob.call("chat.message.send", "pics", "again", files=[file_id]))) == NOT_FOUND
    for bad in ([file_id, file_id], ["nope"], [file_id] * 11, "x"):
        assert (yield error_of(bob.call("chat.message.send", "pics", "x", files=bad))) == INVALID


@pytest_twisted.inlineCallbacks
def test_private_files_need_membership_and_a_true_unexpired_signature(world):
    ann, bob = yield two_users(world, private=True)
    cid = yield world.user("cid")
    file_id = yield upload(world, ann, "pics", "secret.txt", b"secret")
    yield ann.call("chat.message.send", "pics", "see", files=[file_id])
    assert (yield error_of(cid.call("chat.file.url", file_id))) == NOT_FOUND
    assert (yield error_of(cid.call("chat.file.url", "0" * 32))) == NOT_FOUND
    urls = yield bob.call("chat.file.url", file_id)
    assert (yield http(world, "GET", urls["url"]))[2] == b"secret"
    path, query = urls["url"].split("?")
    args = {k: v[0] for k, v in parse_qs(query).items()}
    flipped = args["sig"][:-1] + ("0" if args["sig"][-1] != "0" else "1")
    assert (yield http(world, "GET", f"{path}?exp={args['exp']}&sig={flipped}"))[0] == 403
    assert (yield http(world, "GET", f"{path}?exp={int(args['exp']) + 600}&sig={args['sig']}"))[0] == 403
    assert (yield http(world, "GET", path))[0] == 403
    assert (yield http(world, "GET", f"{path}?exp={args['exp']}&sig={args['sig']}&thumb=1"))[0] == 403
    signer = runtime(world).session.files.signer
    past = int(world.server.router.reactor.seconds()) - 1
    assert (yield http(world, "GET", signer.url(file_id, "original", past)))[0] == 403


@pytest_twisted.inlineCallbacks
def test_html_and_svg_are_never_served_inline(world):
    ann, _ = yield two_users(world)
    html = b"<html><script>alert(document.cookie)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for name, data, claimed in (("x.html", html, "text/html"), ("y.svg", svg, "image/svg+xml")):
        file_id = yield upload(world, ann, "pics", name, data, claimed)
        yield ann.call("chat.message.send", "pics", "look", files=[file_id])
        status, headers, body = yield fetch(world, ann, file_id)
        assert (status, body) == (200, data)
        assert header(headers, b"content-type") == "text/plain; charset=utf-8"
        assert header(headers, b"content-disposition").startswith("attachment;")
        assert f"filename*=UTF-8''{name}" in header(headers, b"content-disposition")
        assert header(headers, b"content-security-policy") == "sandbox"
        assert header(headers, b"x-content-type-options") == "nosniff"


@pytest_twisted.inlineCallbacks
def test_a_jpeg_loses_its_gps_and_gains_its_size_and_a_thumbnail(world):
    ann, bob = yield two_users(world)
    file_id = yield upload(world, ann, "pics", "été à Paris.jpg", jpeg_with_gps(), "image/jpeg")
    sent = yield ann.call("chat.message.send", "pics", "holiday", files=[file_id])
    assert {k: sent["files"][0][k] for k in ("content_type", "width", "height")} == \
        {"content_type": "image/jpeg", "width": 800, "height": 600}
    status, headers, body = yield fetch(world, bob, file_id)
    assert status == 200 and header(headers, b"content-type") == "image/jpeg"
    assert header(headers, b"content-disposition").startswith("inline;")
    assert "filename*=UTF-8''%C3%A9t%C3%A9%20%C3%A0%20Paris.jpg" in header(headers, b"content-disposition")
    served = Image.open(io.BytesIO(body))
    assert served.size == (800, 600)
    assert not served.getexif() and not served.getexif().get_ifd(GPS_IFD) and b"SpyCam" not in body
    status, headers, thumb = yield fetch(world, bob, file_id, thumbnail=True)
    assert status == 200 and header(headers, b"content-type") == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb)).size) == 320


@pytest_twisted.inlineCallbacks
def test_a_decompression_bomb_is_kept_as_an_opaque_attachment(world):
    ann, _ = yield two_users(world)
    bomb = png_bomb()
    file_id = yield upload(world, ann, "pics", "bomb.png", bomb, "image/png")
    sent = yield ann.call("chat.message.send", "pics", "boom", files=[file_id])
    assert sent["files"][0]["content_type"] == "application/octet-stream" and "width" not in sent["files"][0]
    urls = yield ann.call("chat.file.url", file_id)
    assert "thumbnail_url" not in urls
    status, headers, body = yield http(world, "GET", urls["url"])
    assert (status, body) == (200, bomb) and header(headers, b"content-disposition").startswith("attachment;")


@pytest_twisted.inlineCallbacks
def test_deleting_the_message_deletes_its_files(world):
    ann, bob = yield two_users(world)
    file_id = yield upload(world, ann, "pics", "gone.txt", b"soon gone")
    sent = yield ann.call("chat.message.send", "pics", "oops", files=[file_id])
    urls = yield bob.call("chat.file.url", file_id)
    yield ann.call("chat.message.delete", "pics", sent["id"])
    assert (yield http(world, "GET", urls["url"]))[0] == 404
    assert (yield error_of(bob.call("chat.file.url", file_id))) == NOT_FOUND
    page = yield bob.call("chat.message.history", "pics")
    assert "files" not in page["messages"][-1]


@pytest_twisted.inlineCallbacks
def test_the_quota_counts_a_day_of_uploads_and_guests_upload_nothing(make_world):
    world = yield make_world(["--upload-quota", "100"])
    ann, _ = yield two_users(world)
    yield ann.call("chat.file.upload", "pics", "a", None, 60)
    assert (yield error_of(ann.call("chat.file.upload", "pics", "b", None, 41))) == RATE_LIMITED
    yield ann.call("chat.file.upload", "pics", "c", None, 40)
    guest = yield world.guest("Passer")
    assert (yield error_of(guest.call("chat.file.upload", "pics", "g", None, 1))) == FORBIDDEN


@pytest_twisted.inlineCallbacks
def test_banned_and_muted_users_upload_nothing(world):
    ann, bob = yield two_users(world)
    yield ann.call("chat.room.mute", "pics", "bob")
    assert (yield error_of(bob.call("chat.file.upload", "pics", "m", None, 1))) == FORBIDDEN


@pytest_twisted.inlineCallbacks
def test_uploads_never_sent_are_removed_after_a_day(world):
    ann, _ = yield two_users(world)
    old = yield upload(world, ann, "pics", "old.txt", b"old")
    new = yield upload(world, ann, "pics", "new.txt", b"new")
    day_ago = runtime(world).session.context.now() - 25 * 3600 * 1000
    yield runtime(world).store.database.run(
        lambda tx: tx.execute("UPDATE files SET created = ? WHERE id = ?", (day_ago, old)))
    assert (yield runtime(world).session.files.remove_unsent()) == 1
    assert (yield error_of(ann.call("chat.file.url", old))) == NOT_FOUND
    assert (yield ann.call("chat.file.url", new))["url"]


@pytest_twisted.inlineCallbacks
def test_a_file_uploaded_on_one_node_is_served_by_the_other(tmp_path, postgres):
    url = postgres.new_database()
    a = yield ChatWorld(tmp_path / "a", url).start()
    b = yield ChatWorld(tmp_path / "b", url).start()
    try:
        ann, bob = yield two_users(a)
        bob_b = yield b.user("bob", register=False)
        file_id = yield upload(a, ann, "pics", "photo.jpg", jpeg_with_gps((400, 300)))
        yield ann.call("chat.message.send", "pics", "from a", files=[file_id])
        signed_on_a = yield bob.call("chat.file.url", file_id)
        status, headers, body = yield http(b, "GET", signed_on_a["url"])
        assert status == 200 and header(headers, b"content-type") == "image/jpeg"
        assert Image.open(io.BytesIO(body)).size == (400, 300)
        signed_on_b = yield bob_b.call("chat.file.url", file_id)
        assert (yield http(a, "GET", signed_on_b["thumbnail_url"]))[0] == 200
        assert urlsplit(signed_on_b["url"]).path == urlsplit(signed_on_a["url"]).path
    finally:
        yield a.stop()
        yield b.stop()


@pytest_twisted.inlineCallbacks
def test_retention_deletes_files_with_their_messages(world):
    ann, bob = yield two_users(world)
    file_id = yield upload(world, ann, "pics", "old.txt", b"old news")
    yield ann.call("chat.message.send", "pics", "old", files=[file_id])
    urls = yield bob.call("chat.file.url", file_id)
    later = runtime(world).session.context.now() + 3 * 24 * 3600 * 1000
    deleted, _ = yield runtime(world).store.delete_expired(1, later, 100)
    assert deleted >= 1
    assert (yield http(world, "GET", urls["url"]))[0] == 404
    assert (yield error_of(bob.call("chat.file.url", file_id))) == NOT_FOUND
