"""
What a load balancer and a scraper read of a node: /healthz (its state, with nothing that says where things
are) and /metrics (the router's Prometheus registry).
"""
import json

from twisted.logger import Logger
from twisted.web.resource import Resource

log = Logger()


# What /healthz may show of a component: states and counts, never where things are (paths, hosts, users)
# nor error texts (they name both); those go to the log.
PUBLIC_HEALTH_FIELDS = ("state", "engine", "outbox", "exchange", "node", "heartbeat_age_ms", "self")
# A component reporting a state outside these makes the node "degraded" (HTTP 503).
HEALTHY_STATES = {"ok", "connected", "ready"}


def public_health(value):
    """``value`` (a component's health) with only PUBLIC_HEALTH_FIELDS kept, in dicts and lists of dicts."""
    if isinstance(value, dict):
        return {key: public_health(value[key]) for key in PUBLIC_HEALTH_FIELDS if key in value}
    if isinstance(value, list):
        return [public_health(item) for item in value]
    return value


def is_healthy(component) -> bool:
    """False for a component (database, amqp link, chat service) whose state is not a healthy one."""
    return not isinstance(component, dict) or "state" not in component or component["state"] in HEALTHY_STATES


class HealthResource(Resource):
    """GET /healthz: JSON with status, session count and each component's state, for load balancers.

    ``status`` is ``ok`` (HTTP 200) or, when a component is not in a healthy
    state (database unavailable, AMQP link not connected, chat service not
    ready), ``degraded`` (HTTP 503), so a plain status-code check stops
    sending clients to the node.
    """

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        components = {name: self._check(name, check) for name, check in self._router.health.items()}
        healthy = all(is_healthy(c) for c in components.values())
        body = {"status": "ok" if healthy else "degraded", "sessions": self._router.session_count(), **components}
        request.setResponseCode(200 if healthy else 503)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(body).encode("utf-8")

    def _check(self, name, check):
        try:
            return public_health(check())
        except Exception:
            log.failure("the health check of {name} failed", name=name)
            return {"state": "error"}


class MetricsResource(Resource):
    """GET /metrics: the router's prometheus_client registry, in the format the scraper asks for.

    Without an Accept header (curl, a browser) that is the Prometheus text
    format 0.0.4; a Prometheus server that asks for OpenMetrics gets it.
    """

    isLeaf = True

    def __init__(self, router):
        super().__init__()
        self._router = router

    def render_GET(self, request):
        accept = request.getHeader(b"accept")
        body, content_type = self._router.metrics.exposition(accept.decode("latin-1") if accept else None)
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return body
