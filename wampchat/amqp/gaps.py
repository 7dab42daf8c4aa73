"""
Gaps: where live events may be missing, subscribers are told to catch up from history.

Events go missing three ways: this node's queue was gone or full when the
link came back (or a key was bound only now), or some node's full outbox
dropped publications. Each ends as ``chat.room.<id>.gap`` injected for this
node's subscribers only (it has an origin, so it is never mirrored). A node
whose outbox dropped events remembers their rooms and, once the link is
back, tells every node on the cluster exchange (a gap notice).
"""
import json
import uuid
from typing import Callable, Optional, Set

from twisted.logger import Logger

from wampchat.amqp.bindings import room_of
from wampchat.amqp.bodies import JSON_TYPE, encode_body
from wampchat.amqp.queues import QueueFound
from wampchat.amqp.settings import NODE_QUEUE_ARGS
from wampchat.amqp.topology import NODE_HEADER

GAP_NOTICE = "wampchat.gap"                      # routing key of a node's "my outbox dropped events" notice
GAP_ROOMS = 1000                                 # rooms a notice names; past that it means every room


def notice_rooms(body: bytes) -> Optional[Set[str]]:
    """The rooms of a gap notice's body (a set), or None for every room (also when it cannot be read)."""
    try:
        rooms = json.loads(body.decode("utf-8"))["gap"]["rooms"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(rooms, list) or not all(isinstance(r, str) and r for r in rooms):
        return None
    return {r for r in rooms if room_of(f"chat.room.{r}.gap") == r}


class Gaps:
    """Tells this node's subscribers which rooms may have missed events, and other nodes what ours dropped."""

    log = Logger()

    def __init__(self, broker, bindings, settings, reactor, metrics):
        self.broker = broker
        self.bindings = bindings
        self.settings = settings
        self.reactor = reactor
        self._lost_rooms = set()   # rooms whose events the full outbox dropped, for the next gap notice
        self._lost_all = False     # ... or every room (too many, or a room list or notification dropped)
        self.m_gaps = metrics.counter("wampchat_amqp_gaps_total",
                                      "chat.room.<id>.gap events sent to local subscribers: live events of that "
                                      "room may be missing, catch up from history")

    def signal_missed(self, node_queue: QueueFound, cluster_queue: QueueFound, newly_bound) -> None:
        """After set-up: a queue that was not there (expired, deleted, a new process) or that was full
        lost what was routed to it, and a key bound only now got nothing before; tell those rooms."""
        limit = NODE_QUEUE_ARGS["x-max-length"]
        if not (node_queue.existed and cluster_queue.existed):
            self.signal(self.local_rooms(), "queue_lost")
        elif max(node_queue.messages, cluster_queue.messages) >= limit:
            self.signal(self.local_rooms(), "queue_full")
        elif newly_bound:
            self.signal({room_of(key) for key in newly_bound} - {None}, "subscribed_while_away")

    def local_rooms(self) -> Set[str]:
        """The rooms this node's sessions follow (from the binding keys of their subscriptions)."""
        return {room_of(key) for key in self.bindings.keys()} - {None}

    def signal(self, rooms, reason: str) -> None:
        """``chat.room.<id>.gap`` to this node's subscribers only (never mirrored: it has an origin)."""
        for room in sorted(rooms):
            self.broker.inject(f"chat.room.{room}.gap", [{"room": room, "reason": reason}], None, origin="gap")
        if rooms:
            self.m_gaps.inc(len(rooms))
            self.log.info("live events may be missing ({reason}): told subscribers of {n} rooms to catch up",
                          reason=reason, n=len(rooms))

    def outbox_dropped(self, messages) -> None:
        """The full outbox dropped these: remember their rooms, for the notice sent when the link is back."""
        for msg in messages:
            if msg.routing_key == GAP_NOTICE:  # an older notice: its rooms go into the next one
                rooms = notice_rooms(msg.body)
                self._lost_all = self._lost_all or rooms is None
                self._lost_rooms |= rooms or set()
            elif room_of(msg.routing_key) is not None:
                self._lost_rooms.add(room_of(msg.routing_key))
            elif msg.routing_key == "chat.rooms" or msg.routing_key.startswith("chat.user."):
                self._lost_all = True  # a room announcement or invitation: every page should look again
        if len(self._lost_rooms) > GAP_ROOMS:
            self._lost_all = True

    def announce_dropped(self, publish: Callable) -> None:
        """Tell every node (cluster exchange) which rooms' events this node's outbox dropped; queued behind
        what waits, so it goes out as soon as the link is up."""
        if not (self._lost_rooms or self._lost_all):
            return
        rooms = None if self._lost_all else sorted(self._lost_rooms)
        self._lost_rooms, self._lost_all = set(), False
        s = self.settings
        publish(s.cluster_exchange, GAP_NOTICE, encode_body({"gap": {"rooms": rooms, "reason": "outbox_overflow"}}), {
            "content_type": JSON_TYPE,
            "delivery_mode": 2,
            "message_id": f"{s.node_id}:gap:{uuid.uuid4().hex}",
            "timestamp": int(self.reactor.seconds()),
            "user_id": s.url.username,
            "app_id": "wampchat",
            "headers": {NODE_HEADER: s.node_id},
        })

    def on_notice(self, delivery) -> None:
        """Another node's outbox dropped events: tell our subscribers of those rooms to catch up."""
        rooms = notice_rooms(delivery.body)
        local = self.local_rooms()
        self.signal(local if rooms is None else local & rooms, "outbox_overflow")
