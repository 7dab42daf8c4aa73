"""
The bounded outbound buffer: once the kernel's and Twisted's write buffers are full (Twisted pauses our
producer), the bytes still sent to a peer are counted, and past the limit the peer is dropped, so one
client that does not read cannot make the router's memory grow.
"""
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer


@implementer(IPushProducer)
class OutboundBudget:
    """Counts bytes written while the transport's buffer is full; trips past ``limit``."""

    def __init__(self, limit):
        self.limit = limit
        self.paused = False
        self.pending = 0

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self.pending = 0

    def stopProducing(self):
        self.paused = False

    def spend(self, nbytes):
        """Record ``nbytes`` written; True when the peer is over its budget."""
        if not self.paused:
            return False
        self.pending += nbytes
        return self.pending > self.limit


def install_budget(transport, limit):
    """An OutboundBudget of ``limit`` bytes, registered as ``transport``'s producer so Twisted tells it
    when the write buffer fills and drains."""
    budget = OutboundBudget(limit)
    if getattr(transport, "producer", None) is not None:
        transport.unregisterProducer()  # twisted.web's HTTPChannel, left over from the upgrade
    transport.registerProducer(budget, True)
    return budget
