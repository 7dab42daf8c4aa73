"""
The RabbitMQ bridge (API.md §6): ``twistd wampchat --amqp amqp://user:pass@host/vhost``.

``AmqpBridge(router, realm_name, BridgeSettings(url, node_id, ...), reactor)``
is a service: started, it mirrors every accepted publication (not ``wamp.*``)
to the topic exchange, delivers other nodes' and services' messages to local
subscribers, and answers RPC requests from ``<exchange>.rpc``. ``AmqpLink``
(``wampchat.amqp.link``) is the reconnecting, confirming connection under it.
"""
from wampchat.amqp.bridge import AmqpBridge
from wampchat.amqp.settings import BridgeSettings
from wampchat.amqp.link import AmqpLink
from wampchat.amqp.url import AmqpUrl

__all__ = ["AmqpBridge", "BridgeSettings", "AmqpLink", "AmqpUrl", "settings_from_options"]


def settings_from_options(options, origin=lambda name: f"--{name}"):
    """BridgeSettings from ``twistd wampchat`` options; a bad value is a UsageError naming it as ``origin`` does.

    ``origin(name)`` is how the error names a setting: ``--amqp`` by default,
    or the config file and key when the value came from ``--config-file``.
    """
    import re

    from twisted.python import usage

    try:
        url = AmqpUrl(options["amqp"])
    except ValueError as e:
        raise usage.UsageError(f"{origin('amqp')}: {e}")
    exchange = options["amqp-exchange"]
    if not re.match(r"^[A-Za-z0-9_.:-]{1,200}$", exchange or ""):
        raise usage.UsageError(f"{origin('amqp-exchange')} must be 1..200 of letters, digits and _ . : -")
    users = [u.strip() for u in (options["amqp-node-users"] or "").split(",") if u.strip()]
    return BridgeSettings(url, options["node-id"], exchange, users, options["amqp-outbox"],
                          options["amqp-retry-max"])
