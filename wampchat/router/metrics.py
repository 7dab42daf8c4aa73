"""
Counters and gauges, rendered in the Prometheus text format at /metrics.

Counters are plain objects with a ``value`` attribute so the hot path can add
to them without a call.
"""


class Counter:
    """A monotonically increasing number (or a gauge set by assignment)."""

    __slots__ = ("name", "help", "kind", "value")

    def __init__(self, name, help, kind="counter"):
        self.name = name
        self.help = help
        self.kind = kind
        self.value = 0

    def inc(self, n=1):
        self.value += n


class Metrics:
    """The registry of every number the process exposes."""

    def __init__(self):
        self._counters = {}
        self._gauges = {}
        self.sessions = self.counter("wampchat_sessions", "WAMP sessions currently joined", kind="gauge")
        self.messages_in = self.counter("wampchat_messages_in_total", "WAMP messages received from peers")
        self.messages_out = self.counter("wampchat_messages_out_total", "WAMP messages sent to peers")
        self.publications = self.counter("wampchat_publications_total", "publications accepted")
        self.events_out = self.counter("wampchat_events_delivered_total", "EVENTs sent to subscribers")
        self.calls = self.counter("wampchat_calls_total", "calls routed")
        self.errors = self.counter("wampchat_errors_total", "ERROR replies sent and internal failures")
        self.denials = self.counter("wampchat_authorization_denials_total", "requests refused by authorization")
        self.auth_failures = self.counter("wampchat_authentication_failures_total", "failed logins")
        self.protocol_violations = self.counter("wampchat_protocol_violations_total", "sessions aborted for bad WAMP")
        self.slow_consumers = self.counter("wampchat_slow_consumer_disconnects_total",
                                           "peers dropped for exceeding the outbound buffer")
        self.limit_refusals = self.counter("wampchat_session_limit_refusals_total",
                                           "requests refused by a per-session limit (subscriptions, "
                                           "registrations, calls in flight)")

    def counter(self, name, help, kind="counter"):
        """Get or create a counter (``kind="gauge"`` for a settable number)."""
        if name not in self._counters:
            self._counters[name] = Counter(name, help, kind)
        return self._counters[name]

    def gauge(self, name, help, fn):
        """A gauge whose value is ``fn()`` at scrape time."""
        self._gauges[name] = (help, fn)

    def value(self, name):
        if name in self._counters:
            return self._counters[name].value
        return self._gauges[name][1]()

    def render(self):
        """The Prometheus text exposition format (version 0.0.4)."""
        lines = []
        for c in self._counters.values():
            lines += [f"# HELP {c.name} {c.help}", f"# TYPE {c.name} {c.kind}", f"{c.name} {c.value}"]
        for name, (help, fn) in self._gauges.items():
            lines += [f"# HELP {name} {help}", f"# TYPE {name} gauge", f"{name} {fn()}"]
        return "\n".join(lines) + "\n"
