"""
The RabbitMQ bridge (API.md §6): ``twistd wampchat --amqp amqp://user:pass@host/vhost``.

``AmqpBridge(router, realm_name, BridgeSettings(url, node_id, ...), reactor)``
is a service: started, it mirrors every accepted publication (not ``wamp.*``)
to the topic exchange, delivers other nodes' and services' messages to local
subscribers, and answers RPC requests from ``<exchange>.rpc``. ``AmqpLink``
(``wampchat.amqp.link``) is the reconnecting, confirming connection under it.
"""
from wampchat.amqp.bridge import AmqpBridge, BridgeSettings
from wampchat.amqp.link import AmqpLink, AmqpUrl

__all__ = ["AmqpBridge", "BridgeSettings", "AmqpLink", "AmqpUrl"]
