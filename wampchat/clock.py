"""
What a limit or an outage notice needs of the reactor: the time.

A ``typing.Protocol`` rather than Twisted's ``IReactorTime``: a zope
interface is not a type mypy can check calls against, and any reactor or
``twisted.internet.task.Clock`` has ``seconds()``.
"""
from typing import Protocol


class Clock(Protocol):
    def seconds(self) -> float:
        """Now, in seconds (the reactor's clock)."""
