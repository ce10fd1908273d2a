"""In-process publish/subscribe for "new data stored" (the conversion cache listens)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from app.ingest.records import Kind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DataStored:
    kind: Kind
    keys: frozenset[str]  # symbols, or "BASE/QUOTE" pairs
    first_day: date
    last_day: date
    run_id: int | None


Subscriber = Callable[[DataStored], Awaitable[None] | None]


class Publisher:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def publish(self, event: DataStored) -> None:
        """Tell every subscriber; one failing subscriber neither stops the others nor the run."""
        for subscriber in list(self._subscribers):
            try:
                result = subscriber(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("subscriber %r failed on %s", subscriber, event.kind)
