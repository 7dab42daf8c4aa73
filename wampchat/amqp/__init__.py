"""
The RabbitMQ bridge (API.md §6): ``twistd wampchat --amqp amqp://user:pass@host/vhost``.

``AmqpBridge(router, realm_name, BridgeSettings(url, node_id, ...), reactor)``
is a service: started, it mirrors every accepted publication (not ``wamp.*``)
to the topic exchange, delivers other nodes' and services' messages to local
subscribers, and answers RPC requests from ``<exchange>.rpc``. ``AmqpLink``
(``wampchat.amqp.link``) is the reconnecting, confirming connection under it.
"""
from wampchat.amqp.bridge import AmqpBridge, BridgeSettings
from wampchat.amqp.link import AmqpLink
from wampchat.amqp.url import AmqpUrl

__all__ = ["AmqpBridge", "BridgeSettings", "AmqpLink", "AmqpUrl", "settings_from_options"]


def settings_from_options(options):
    """BridgeSettings from ``twistd wampchat`` options; a bad value is a UsageError saying which."""
    import re

    from twisted.python import usage

    try:
        url = AmqpUrl(options["amqp"])
    except ValueError as e:
        raise usage.UsageError(f"--amqp: {e}")
    exchange = options["amqp-exchange"]
    if not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", exchange or ""):
        raise usage.UsageError("--amqp-exchange must be 1..200 of letters, digits and _ . : -")
    users = [u.strip() for u in (options["amqp-node-users"] or "").split(",") if u.strip()]
    if options["amqp-outbox"] < 1:
        raise usage.UsageError(f"--amqp-outbox must be at least 1, not {options['amqp-outbox']}")
    if options["amqp-retry-max"] <= 0:
        raise usage.UsageError("--amqp-retry-max must be a positive number of seconds")
    return BridgeSettings(url, options["node-id"], exchange, users, options["amqp-outbox"],
                          options["amqp-retry-max"])
