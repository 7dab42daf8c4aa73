"""
The numbers a router exposes at /metrics, through ``prometheus_client``.

Every :class:`Metrics` (one per Router) has its own ``CollectorRegistry``, so
many routers in one process (tests, embedders) never share or clash over a
series. The registry holds:

- the counters and gauges made with :meth:`Metrics.counter` and
  :meth:`Metrics.gauge`. A counter is a plain object with a ``value``
  attribute: the hot paths (publish fan-out, call routing, every message in
  and out) add to it with ``c.value += n`` and no call, no lock and no label
  lookup, which prometheus_client's own ``Counter.inc()`` would cost. A
  collector turns them into metric families only when /metrics is scraped.
- histograms (:meth:`Metrics.histogram`), without labels, plain too: one
  ``observe()`` per finished call or sent chat message is a bisect and two
  additions, where prometheus_client's ``Histogram`` takes a lock per
  bucket and per sum (every observation is made on the reactor thread).
- the process collector: memory, CPU seconds, open and maximum file
  descriptors, start time (``process_*``, read from /proc at scrape time).
"""
from bisect import bisect_left

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.utils import floatToGoString

# Seconds, from in-process calls (well under a millisecond) to database-bound
# work on a busy node; prometheus_client's defaults start at 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Counter:
    """A monotonically increasing number (or, with ``kind="gauge"``, one set by assignment)."""

    __slots__ = ("name", "help", "kind", "value")

    def __init__(self, name, help, kind="counter"):
        self.name = name
        self.help = help
        self.kind = kind
        self.value = 0

    def inc(self, n=1):
        self.value += n


class Histogram:
    """Observations counted in fixed buckets (upper bounds, inclusive), with their sum."""

    __slots__ = ("name", "help", "bounds", "counts", "sum")

    def __init__(self, name, help, bounds):
        self.name = name
        self.help = help
        self.bounds = tuple(float(b) for b in sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value):
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self):
        """The histogram as prometheus_client exposes one: cumulative ``le`` buckets, ``_sum``, ``_count``."""
        buckets, total = [], 0
        for bound, n in zip(self.bounds + (float("inf"),), self.counts):
            total += n
            buckets.append((floatToGoString(bound), total))
        return HistogramMetricFamily(self.name, self.help, buckets=buckets, sum_value=self.sum)


class _NumbersCollector:
    """Reads the plain counters, gauge functions and histograms into metric families at scrape time."""

    def __init__(self, counters, gauges, histograms):
        self._counters = counters
        self._gauges = gauges
        self._histograms = histograms

    def collect(self):
        for c in list(self._counters.values()):
            family = CounterMetricFamily if c.kind == "counter" else GaugeMetricFamily
            yield family(c.name, c.help, value=c.value)
        for name, (help, fn) in list(self._gauges.items()):
            yield GaugeMetricFamily(name, help, value=fn())
        for h in list(self._histograms.values()):
            yield h.family()


class Metrics:
    """Every number one router exposes, in its own prometheus_client registry."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=False)
        self._counters = {}
        self._gauges = {}
        self._histograms = {}
        self.registry.register(_NumbersCollector(self._counters, self._gauges, self._histograms))
        ProcessCollector(registry=self.registry)
        self.sessions = self.counter("wampchat_sessions", "WAMP sessions currently joined", kind="gauge")
        self.messages_in = self.counter("wampchat_messages_in_total", "WAMP messages received from peers")
        self.messages_out = self.counter("wampchat_messages_out_total", "WAMP messages sent to peers")
        self.publications = self.counter("wampchat_publications_total", "publications accepted")
        self.events_out = self.counter("wampchat_events_delivered_total", "EVENTs sent to subscribers")
        self.calls = self.counter("wampchat_calls_total",
                                  "CALLs handled (routed, answered by the router, or to unknown procedures)")
        self.errors = self.counter("wampchat_errors_total", "ERROR replies sent and internal failures")
        self.denials = self.counter("wampchat_authorization_denials_total", "requests refused by authorization")
        self.auth_failures = self.counter("wampchat_authentication_failures_total", "failed logins")
        self.protocol_violations = self.counter("wampchat_protocol_violations_total", "sessions aborted for bad WAMP")
        self.slow_consumers = self.counter("wampchat_slow_consumer_disconnects_total",
                                           "peers dropped for exceeding the outbound buffer")
        self.call_duration = self.histogram(
            "wampchat_call_duration_seconds",
            "routed calls from CALL to the caller's RESULT or ERROR (timeouts and cancels included)")
        self.limit_refusals = self.counter("wampchat_session_limit_refusals_total",
                                           "requests refused by a per-session limit (subscriptions, "
                                           "registrations, calls in flight)")

    def counter(self, name, help, kind="counter"):
        """Get or create a counter (``kind="gauge"`` for a number set by assignment).

        Counter names end in ``_total``, as Prometheus expects and as the
        text format writes them, so the name given is the name scraped.
        """
        if name not in self._counters:
            if kind == "counter" and not name.endswith("_total"):
                raise ValueError(f"counter {name!r} must end in _total")
            self._counters[name] = Counter(name, help, kind)
        return self._counters[name]

    def gauge(self, name, help, fn):
        """A gauge whose value is ``fn()`` at scrape time."""
        self._gauges[name] = (help, fn)

    def histogram(self, name, help, buckets=LATENCY_BUCKETS):
        """Get or create a :class:`Histogram` (no labels) on this registry; ``observe(seconds)``."""
        if name not in self._histograms:
            self._histograms[name] = Histogram(name, help, buckets)
        return self._histograms[name]

    def value(self, name):
        """The current value of a counter, a gauge, or any other sample (``..._count``, ``process_...``).

        None for a sample the registry does not have.
        """
        if name in self._counters:
            return self._counters[name].value
        if name in self._gauges:
            return self._gauges[name][1]()
        return self.registry.get_sample_value(name)

    def render(self):
        """The Prometheus text exposition format (version 0.0.4), as /metrics answers by default."""
        return generate_latest(self.registry).decode("utf-8")

    def exposition(self, accept=None):
        """(body bytes, content type) for a scrape with this Accept header (OpenMetrics when asked for)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
