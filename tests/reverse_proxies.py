"""Reverse proxies for tests/test_proxies.py: a real nginx or HAProxy (Debian packages) as a private process on
127.0.0.1 with a generated config, and WAMP clients that connect from a chosen loopback address, send their
own X-Forwarded-For or write a PROXY protocol header first."""
import os
import shutil
import socket
import subprocess
import time

from autobahn.twisted.rawsocket import WampRawSocketClientFactory
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp import types
from twisted.internet import defer, endpoints
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from wampchat.testing_servers import free_port
from wampchat.testing import SERIALIZERS, ClientSession

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
MISSING = "needs the Debian packages nginx-light and haproxy (`make system-deps-test` installs them)"

# What docs/production.md shows, with the ports filled in by the test.
NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""

HAPROXY_HEAD = """\
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
"""

HAPROXY_PAIR = """
frontend {name}_in
    bind 127.0.0.1:{port}
    default_backend {name}
backend {name}
    server wampchat 127.0.0.1:{upstream} {send}
"""


def wait_for_port(port, process, log, timeout=20.0):
    """Poll until 127.0.0.1:``port`` accepts, with a deadline; fail early if ``process`` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {open(log).read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"127.0.0.1:{port} did not accept within {timeout} s")


class ProxyProcess:
    """A proxy process with its config in ``directory``; ``ports`` maps each front name to its port."""

    def __init__(self, argv, directory, ports):
        self.log = os.path.join(directory, "proxy.log")
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.ports = ports
        try:
            for port in ports.values():
                wait_for_port(port, self.process, self.log)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nginx(directory, upstream):
    """nginx on a free port in front of the web listener ``upstream``."""
    port = free_port()
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(prefix=directory, port=port, upstream=upstream))
    return ProxyProcess([NGINX, "-c", conf, "-p", directory, "-g", "daemon off;"], directory, {"web": port})


def start_haproxy(directory, backends):
    """HAProxy in TCP mode: one front per ``name: (upstream port, "send-proxy" or "send-proxy-v2")``."""
    ports = {name: free_port() for name in backends}
    text = HAPROXY_HEAD + "".join(HAPROXY_PAIR.format(name=name, port=ports[name], upstream=upstream, send=send)
                                  for name, (upstream, send) in backends.items())
    cfg = os.path.join(directory, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(text)
    return ProxyProcess([HAPROXY, "-f", cfg, "-db"], directory, ports)


class _PrefixWriter(ProtocolWrapper):
    """Writes the factory's ``prefix`` (a hand-made PROXY header) before the wrapped protocol speaks."""

    def connectionMade(self):
        if self.factory.prefix:
            self.transport.write(self.factory.prefix)
        super().connectionMade()


class _PrefixFactory(WrappingFactory):
    protocol = _PrefixWriter

    def __init__(self, wrapped, prefix):
        super().__init__(wrapped)
        self.prefix = prefix


@defer.inlineCallbacks
def join(port, headers=None, prefix=b"", rawsocket=False, source="127.0.0.1", authextra=None):
    """A guest session joined over WebSocket (or RawSocket) to 127.0.0.1:``port`` from loopback address
    ``source``, sending ``headers`` with the upgrade and ``prefix`` before anything else."""
    from twisted.internet import reactor

    session = ClientSession(types.ComponentConfig(realm="wampchat"), ["anonymous"], None, None, authextra)
    serializer = SERIALIZERS["json"]()
    if rawsocket:
        factory = WampRawSocketClientFactory(lambda: session, serializer=serializer)
    else:
        factory = WampWebSocketClientFactory(lambda: session, url=f"ws://127.0.0.1:{port}/ws",
                                             serializers=[serializer], headers=headers or {})
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10, bindAddress=(source, 0))
    yield endpoint.connect(_PrefixFactory(factory, prefix))
    yield session.joined
    return session


def closed_without_answer(port, data):
    """Send ``data`` to 127.0.0.1:``port``; True when the server closes without a byte in answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        try:
            return sock.recv(100) == b""
        except ConnectionResetError:
            return True


def upgrade_answer(port, forwarded_for):
    """The server's answer to a WebSocket upgrade sent by hand with ``X-Forwarded-For: forwarded_for``."""
    request = ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: wamp.2.json\r\nX-Forwarded-For: {forwarded_for}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode("ascii"))
        answer = b""
        while True:  # a refusal closes the connection after its body
            chunk = sock.recv(4096)
            if not chunk:
                return answer
            answer += chunk
