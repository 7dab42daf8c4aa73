"""
``--amqp`` URLs: ``amqp://user:pass@host:5672/vhost`` or ``amqps://...``.

With ``amqps`` the broker's certificate is verified for the host name
(``optionsForClientTLS``, which uses service-identity); ``?cafile=ca.pem``
trusts a private CA instead of the system's; ``?heartbeat=N`` sets the AMQP
heartbeat (default 10 s) so a silently dead broker is noticed.
"""
from urllib.parse import parse_qs, quote, unquote, urlsplit

from twisted.internet import endpoints

CONNECT_TIMEOUT = 10.0


class AmqpUrl:
    """An ``amqp://`` or ``amqps://`` URL, parsed: where, who, which vhost, TLS trust."""

    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(f"an AMQP URL starts with amqp:// or amqps://, not {url!r}")
        if not parts.hostname:
            raise ValueError(f"the AMQP URL {url!r} names no host")
        self.tls = parts.scheme == "amqps"
        self.host = parts.hostname
        try:
            self.port = parts.port or (5671 if self.tls else 5672)
        except ValueError as e:
            raise ValueError(f"the AMQP URL {url!r} has a bad port: {e}") from e
        self.username = unquote(parts.username) if parts.username else "guest"
        self.password = unquote(parts.password) if parts.password else "guest"
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        self.vhost = unquote(path) if path else "/"
        query = parse_qs(parts.query)
        self.cafile = query.get("cafile", [None])[0]
        try:
            self.heartbeat = int(query.get("heartbeat", ["10"])[0])
        except ValueError as e:
            raise ValueError(f"heartbeat in {url!r} must be whole seconds") from e
        if self.cafile is not None and not self.tls:
            raise ValueError("cafile= only makes sense with amqps://")

    def __str__(self):
        """The URL without its password, for logs and /healthz."""
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{quote(self.vhost, safe='')}"

    def endpoint(self, reactor):
        """A client endpoint; with TLS the broker's certificate is verified for ``host``."""
        tcp = endpoints.HostnameEndpoint(reactor, self.host, self.port, timeout=CONNECT_TIMEOUT)
        if not self.tls:
            return tcp
        from twisted.internet import ssl

        trust = None
        if self.cafile:
            with open(self.cafile, "rb") as f:
                trust = ssl.Certificate.loadPEM(f.read())
        options = ssl.optionsForClientTLS(self.host, trustRoot=trust)  # needs service-identity
        return endpoints.wrapClientTLS(options, tcp)
