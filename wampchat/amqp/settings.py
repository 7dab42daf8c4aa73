"""
What the bridge needs besides the router: where the broker is, who we are on it, and our names there.

Every name the bridge declares on the broker (exchanges, queues) is derived
here from the exchange name and the node id, so the set-up, the mirror and
RPC agree on them.
"""
from wampchat.amqp.url import AmqpUrl

NODE_QUEUE_ARGS = {"x-expires": 600000, "x-max-length": 100000}  # durable; a gone node's queue goes after 10 min


class BridgeSettings:
    """What the bridge needs besides the router: where the broker is and who we are on it."""

    def __init__(self, url, node_id, exchange="wampchat", node_users=(), outbox=10000, retry_max=10.0):
        self.url = url if isinstance(url, AmqpUrl) else AmqpUrl(url)
        self.node_id = node_id
        self.exchange = exchange
        self.node_users = frozenset(node_users or ()) | {self.url.username}
        self.outbox = outbox
        self.retry_max = retry_max

    @property
    def rpc_exchange(self):
        return f"{self.exchange}.rpc"

    @property
    def node_queue(self):
        return f"{self.exchange}.node.{self.node_id}"

    @property
    def cluster_exchange(self):
        """The node-only fanout exchange: restricted publications (private rooms, DMs) between nodes."""
        return f"{self.exchange}.cluster"

    @property
    def cluster_queue(self):
        return f"{self.exchange}.cluster.node.{self.node_id}"
