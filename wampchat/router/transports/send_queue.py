"""
The send queue of a router WebSocket connection (see :mod:`wampchat.router.transports.websocket`).
"""
from typing import Optional


class SendQueue:
    """Autobahn's queue for chopped and synchronous writes, which the router never makes: a list made
    on first use, so an idle connection does not hold an empty deque (760 bytes) for it. The send paths
    test ``_items`` (None or empty: nothing queued) rather than call ``__len__`` per frame."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: Optional[list] = None

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def append(self, item) -> None:
        if self._items is None:
            self._items = []
        self._items.append(item)

    def popleft(self):
        return self._items.pop(0)
