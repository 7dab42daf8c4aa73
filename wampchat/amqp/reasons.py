"""
Why the broker could not be reached or refused us, in a few readable words.

The link logs one line per failed attempt; txamqp's closes, Twisted's
connection errors and OpenSSL's failures each speak their own way, and none
says what to do. These turn them into one short text, kept apart from the
link so that reconnecting reads as control flow, not as string building.
"""
from typing import Optional

from twisted.internet import error
from twisted.python.failure import Failure
from txamqp.client import Closed


def reason_text(reason, depth: int = 0, host: Optional[str] = None) -> str:
    """A broker's close (a txamqp Message), a Failure or any exception, as a short readable string.

    With ``host`` (the name the link connects to), a failed TLS handshake
    says which check failed and what to do about it, since OpenSSL's and
    service-identity's own texts name neither.
    """
    value = getattr(reason, "value", reason)
    if isinstance(value, Closed) and value.args and depth < 3:
        return reason_text(value.args[0], depth + 1, host)
    tls = tls_problem(value, host)
    if tls is not None:
        return tls
    if hasattr(value, "method") and hasattr(value, "fields"):
        try:
            return f"{value.reply_code} {value.reply_text}"  # channel.close / connection.close
        except (AttributeError, KeyError):
            return str(value)
    return str(value) or type(value).__name__


def tls_problem(value, host: Optional[str]) -> Optional[str]:
    """A sentence for a TLS failure (wrong name, untrusted CA, handshake), or None for anything else."""
    try:
        from OpenSSL import SSL
        from service_identity import VerificationError
    except ImportError:  # pragma: no cover - both are dependencies; amqp:// works without them
        return None
    if isinstance(value, VerificationError):
        mismatched = ", ".join(str(getattr(e, "mismatched_id", e)) for e in value.errors)
        return (f"TLS: the broker's certificate is not valid for {host!r}, the host name in the URL "
                f"(service-identity: {mismatched}); connect by a name the certificate carries")
    if isinstance(value, SSL.Error):
        details = "; ".join(str(part[-1]) for part in (value.args[0] if value.args else []) if part) or str(value)
        if "certificate verify failed" in details:
            return (f"TLS: the certificate of the broker at {host!r} is not signed by a trusted CA ({details}); "
                    "for a private CA add ?cafile=ca.pem to the amqps:// URL")
        return f"TLS handshake with the broker at {host!r} failed: {details}"
    return None


# Short words for the usual reasons a broker cannot be reached, for the one line each retry logs.
UNREACHABLE_TEXT = (
    (error.ConnectionRefusedError, "connection refused"),
    (error.TCPTimedOutError, "connection timed out"),
    (error.TimeoutError, "connection timed out"),
    (error.DNSLookupError, "host name not found"),
    (error.NoRouteError, "no route to host"),
)


def unreachable_text(failure: Failure, host: str) -> str:
    """Why a TCP (or TLS) connection to the broker failed: the usual causes in two or three words."""
    for kind, text in UNREACHABLE_TEXT:
        if failure.check(kind):
            return text
    return reason_text(failure, host=host)
