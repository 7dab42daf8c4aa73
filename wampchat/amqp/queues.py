"""
Declaring the link's durable queues, and learning whether they outlived us.

Whether a queue was still there decides whether events were lost while the
node was away (see :mod:`wampchat.amqp.gaps`). Asking costs channels: the
broker's answer to "no such queue" or "declared otherwise" is to close the
channel it was asked on, so each question goes on a scratch channel of its
own and the link's channel stays up.
"""
import itertools
from typing import Any, Awaitable, Callable, NamedTuple

from twisted.logger import Logger
from txamqp.client import ChannelClosed

LINK_CHANNEL = 1  # the link's own channel; scratch channels count up from the next one


class QueueFound(NamedTuple):
    """What declaring a queue found on the broker."""

    existed: bool   # it was there already, with its bindings and the messages kept for us
    messages: int   # messages waiting in it


async def declare_queue(client, log: Logger, name: str, arguments: dict, fresh: bool = False) -> QueueFound:
    """Declare the durable queue ``name`` and say whether it was there already.

    A durable queue keeps its bindings and persistent messages across a
    broker restart, so what other nodes publish while this one is still
    reconnecting waits for it; ``existed`` False means that did not hold
    (the queue expired, was deleted, or ``fresh`` asked to start over) and
    whatever was routed to it meanwhile is gone. A queue of that name
    declared otherwise (e.g. not durable, by an older version) is deleted
    and made again.
    """
    if fresh:
        await on_scratch(client, lambda ch: ch.queue_delete(queue=name))
        existed = False
    else:
        existed = await on_scratch(client, lambda ch: ch.queue_declare(queue=name, passive=True)) is not None

    def declare(ch):
        return ch.queue_declare(queue=name, durable=True, arguments=arguments)

    reply = await on_scratch(client, declare)
    if reply is None:
        log.warn("AMQP queue {queue} was declared with other settings; deleting and declaring it again", queue=name)
        await on_scratch(client, lambda ch: ch.queue_delete(queue=name))
        reply, existed = await on_scratch(client, declare, refusal_ok=False), False
    return QueueFound(existed, reply.message_count)


async def on_scratch(client, use: Callable[[Any], Awaitable], refusal_ok: bool = True) -> Any:
    """``use(channel)`` on a channel of its own; None when the broker refused it (closing that channel
    only), or the refusal raised when ``refusal_ok`` is False."""
    ids = client.__dict__.setdefault("scratch_ids", itertools.count(LINK_CHANNEL + 1))
    channel = await client.channel(next(ids))
    channel.scratch = True
    try:
        await channel.channel_open()
        reply = await use(channel)
        await channel.channel_close(reply_code=200, reply_text="done")
        return reply
    except ChannelClosed:
        if not refusal_ok:
            raise
        return None
    finally:
        channel.close(None)
        client.channels.pop(channel.id, None)
