"""
The chat suite's ceiling: a node whose send batches never reach the database.

``benchmarks.chat`` puts this directory first on the node's ``PYTHONPATH``;
Python imports ``sitecustomize`` at start-up, before twistd loads wampchat,
so every send batch is answered as if stored (an id from the room's clock,
no SQL, no transaction) while the rest of the path is the real one: the
CALL, the chat service, the group commit and its hop to the database thread
and back, the fan-out and the RESULT. Its sends/s are what the node and the
load generator reach on this machine with a store that costs nothing, so
they bound what any store change can gain here. Benchmark only: nothing in
wampchat imports this.
"""
import itertools

import wampchat.chat.messages as _messages
import wampchat.storage.database as _database
from wampchat.storage.chat.message_ids import RoomClock
from wampchat.storage.chat.sends import SendOutcome, new_message

_numbers = itertools.count(1)
_clocks = {}


def add_messages_nowhere(tx, requests, rate=None, numbers=None):
    """What :func:`wampchat.storage.chat.sends.add_messages` answers for a batch of new messages to public rooms,
    without storing them."""
    outcomes = []
    for request in requests:
        clock = _clocks.get(request.room)
        if clock is None:
            clock = _clocks[request.room] = RoomClock(0, 0)
        outcomes.append(SendOutcome(new_message(clock.next(request.ts, next(_numbers)), request), True))
    return outcomes


_transact = _database.Database.transact


def transact(self, fn, *args):
    """Batches of :func:`add_messages_nowhere` skip the transaction; everything else is stored as usual."""
    if fn is add_messages_nowhere:
        return fn(None, *args)
    return _transact(self, fn, *args)


_messages.add_messages = add_messages_nowhere
_database.Database.transact = transact
