"""Node child processes for the JS client tests: awaitable stdout lines and a hard time bound."""
import json
import os
import shutil

from twisted.internet import defer, protocol, reactor

JS_DIR = os.path.join(os.path.dirname(__file__), "js")
NODE = shutil.which("node")


def have_node_module(name):
    """Is ``name`` installed in tests/js/node_modules (by `npm ci` there, part of `make test`)?"""
    return os.path.isdir(os.path.join(JS_DIR, "node_modules", name))


class NodeProcess(protocol.ProcessProtocol):
    """A Node child whose stdout lines can be awaited; killed after ``timeout`` seconds."""

    def __init__(self, timeout):
        self.out, self.err = b"", b""
        self.ended = defer.Deferred()
        self._line_waiters = []
        self._timer = reactor.callLater(timeout, self._kill, timeout)
        self.timed_out = None

    def _kill(self, timeout):
        self.timed_out = f"node still running after {timeout} s; killed"
        self.transport.signalProcess("KILL")

    def outReceived(self, data):
        self.out += data
        for predicate, d in list(self._line_waiters):
            line = next((line for line in self.lines() if predicate(line)), None)
            if line is not None:
                self._line_waiters.remove((predicate, d))
                d.callback(line)

    def errReceived(self, data):
        self.err += data

    def lines(self):
        return [json.loads(line) for line in self.out.decode().splitlines() if line.startswith("{")]

    def wait_for_line(self, predicate):
        """A Deferred of the first JSON stdout line for which ``predicate`` is true."""
        d = defer.Deferred()
        self._line_waiters.append((predicate, d))
        self.outReceived(b"")
        return d

    def processEnded(self, reason):
        if self._timer.active():
            self._timer.cancel()
        for _, d in self._line_waiters:
            d.errback(AssertionError(f"node ended before the awaited line: {self.report()}"))
        self._line_waiters = []
        self.ended.callback(reason.value.exitCode)

    def report(self):
        return f"{self.timed_out or ''}\nstdout:\n{self.out.decode()}\nstderr:\n{self.err.decode()}"


def spawn_node(script, args, timeout, env=None):
    """Start ``node tests/js/<script> <args>`` in tests/js; returns its NodeProcess."""
    proc = NodeProcess(timeout)
    reactor.spawnProcess(proc, NODE, [NODE, os.path.join(JS_DIR, script), *args],
                         env=dict(os.environ) if env is None else env, path=JS_DIR)
    return proc
