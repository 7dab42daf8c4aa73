"""
Message bodies on the broker: JSON objects ``{"args": [...], "kwargs": {...}}``, and the URIs they travel under.

What an AMQP peer sends is untrusted: a wrong content type or encoding, a
body that is not a JSON object, or a routing key that is no WAMP URI is a
:class:`BadMessage` whose text says why (logged, and answered for RPC),
and :func:`reject` counts, logs and refuses such a message.
Outbound, binary payloads are written as Autobahn's JSON serializer writes
them, so a MessagePack or CBOR client's bytes survive the trip.
"""
import base64
import json
import re
from typing import Tuple

from twisted.logger import Logger

JSON_TYPE = "application/json"
URI = re.compile(r"^([^\s.#]+\.)*([^\s.#]+)$")   # WAMP's loose URI rule (as Autobahn checks it)

log = Logger()


class BadMessage(ValueError):
    """An inbound message we cannot use; the text says why (it is logged and, for RPC, answered)."""


def _json_default(value):
    """Binary payloads (from MessagePack/CBOR clients) as Autobahn's JSON serializer writes them."""
    if isinstance(value, (bytes, bytearray)):
        return "\x00" + base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_body(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode("utf-8")


def json_object(delivery) -> dict:
    """The body as a JSON object, or BadMessage (wrong content type or encoding, not JSON, not an object)."""
    content_type = delivery.properties.get("content_type")
    if content_type and content_type.split(";")[0].strip().lower() != JSON_TYPE:
        raise BadMessage(f"content_type {content_type!r} is not {JSON_TYPE}")
    encoding = delivery.properties.get("content_encoding")
    if encoding and encoding.lower() not in ("utf-8", "utf8", "identity"):
        raise BadMessage(f"content_encoding {encoding!r} is not supported")
    if not delivery.body:
        return {}
    try:
        data = json.loads(delivery.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadMessage(f"body is not UTF-8 JSON: {e}") from e
    if not isinstance(data, dict):
        raise BadMessage('body must be a JSON object {"args": [...], "kwargs": {...}}')
    return data


def decode_body(delivery) -> Tuple[list, dict]:
    """``(args, kwargs)`` from a message body, or BadMessage."""
    return args_of(json_object(delivery))


def args_of(data: dict) -> Tuple[list, dict]:
    args, kwargs = data.get("args") or [], data.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise BadMessage('"args" must be a list and "kwargs" an object')
    return args, kwargs


def check_uri(uri, what, reserved_ok=False) -> None:
    """BadMessage unless ``uri`` is a valid WAMP URI; ``wamp.*`` only with ``reserved_ok`` (RPC, where the
    router's permissions decide, e.g. the session meta procedures for the service role)."""
    if not uri or not URI.match(uri):
        raise BadMessage(f"routing key {uri!r} is not a valid WAMP {what} URI")
    if uri.startswith("wamp.") and not reserved_ok:
        raise BadMessage(f"{uri!r}: wamp.* is reserved for the router")


def reject(delivery, counter, why: str) -> None:
    """Count, log and reject (for good) a message we will not use."""
    counter.inc()
    log.warn("AMQP message on {exchange}/{key} rejected ({id}, user {user}): {why}",
             exchange=delivery.exchange, key=delivery.routing_key,
             id=delivery.properties.get("message_id"), user=delivery.properties.get("user_id"), why=why)
    delivery.reject()
