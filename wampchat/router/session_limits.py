"""
Per-session limits: how much one session may hold at once (subscriptions, registrations, calls in flight).

A request past a limit gets ERROR ``wampchat.error.limit_exceeded`` naming the limit and the twistd option
that sets it; the session stays up. In-process services (role ``trusted``) have no such limits.
"""
from dataclasses import dataclass

from wampchat.router.authorize import TRUSTED

LIMIT_EXCEEDED = "wampchat.error.limit_exceeded"

# SessionLimits field -> (what the message calls it, the twistd option that sets it)
_LIMIT_NAMES = {
    "subscriptions": ("subscriptions", "--max-subscriptions"),
    "registrations": ("registrations", "--max-registrations"),
    "calls_in_flight": ("calls in flight", "--max-calls-in-flight"),
}


@dataclass(frozen=True)
class SessionLimits:
    """How much one session may hold at once; past it a request gets ERROR ``wampchat.error.limit_exceeded``."""

    subscriptions: float   # an int, or infinity for UNLIMITED
    registrations: float
    calls_in_flight: float


# In-process services (role ``trusted``) are exempt from the per-session limits.
UNLIMITED = SessionLimits(float("inf"), float("inf"), float("inf"))


def limits_for(authrole: str, configured: SessionLimits) -> SessionLimits:
    """The limits a session joined as ``authrole`` lives under (one shared object, checked per request)."""
    return UNLIMITED if authrole == TRUSTED else configured


def refuse_over_limit(session, request_type: int, request: int, limit: str) -> None:
    """ERROR limit_exceeded naming the per-session ``limit`` (a SessionLimits field); the session stays up."""
    allowed = getattr(session.limits, limit)
    what, option = _LIMIT_NAMES[limit]
    session.realm.metrics.limit_refusals.value += 1
    session.send_error(request_type, request, LIMIT_EXCEEDED,
                       [f"too many {what}: this session already has {allowed}, the most the router allows "
                        f"({option})"],
                       {"limit": limit, "allowed": allowed})
