"""Fan-out of job events to WebSocket subscribers, one bounded queue each.

A subscriber that cannot keep up is cut off (its queue overflowed) rather than letting
memory grow or slowing the job's other subscribers; it can reconnect and gets the
current state first.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

__all__ = ["Hub", "Subscription"]

QUEUE_SIZE = 10_000


class Subscription:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.queue: asyncio.Queue[Optional[dict[str, Any]]] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def put(self, event: Optional[dict[str, Any]]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Optional[dict[str, Any]]:
        """The next event; None means the stream ends (job deleted or subscriber cut off)."""
        if self.overflowed:
            return None
        return await self.queue.get()


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, job_id: str) -> Subscription:
        sub = Subscription(job_id)
        self._subs.setdefault(job_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.job_id]

    def publish(self, job_id: str, event: dict[str, Any]) -> None:
        for sub in list(self._subs.get(job_id, ())):
            sub.put(event)

    def close_job(self, job_id: str) -> None:
        """End every stream of a job (it was deleted)."""
        for sub in list(self._subs.get(job_id, ())):
            sub.put(None)

    def count(self, job_id: str) -> int:
        return len(self._subs.get(job_id, ()))
