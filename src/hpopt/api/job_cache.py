"""One cached answer per job, for answers that read the job's whole study.

Loading a study costs tens of milliseconds to a few seconds, so the answer is computed
in a thread, one computation at a time, and kept until another trial of the job
finishes, the job is resumed or its status changes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from hpopt.jobs.store import JobRecord

__all__ = ["JobAnswerCache"]


class JobAnswerCache:
    """``compute(record, *args)`` per job, recomputed when (attempts, finished trials, status) change."""

    def __init__(self, compute: Callable[..., dict[str, Any]]) -> None:
        self._compute = compute
        self._answers: dict[str, tuple[tuple, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()  # one computation at a time: they are CPU work in a thread

    async def get(self, record: JobRecord, trials_finished: int, *args: Any) -> dict[str, Any]:
        key = (record.attempts, trials_finished, record.status)
        cached = self._answers.get(record.job_id)
        if cached and cached[0] == key:
            return cached[1]
        async with self._lock:
            cached = self._answers.get(record.job_id)
            if cached and cached[0] == key:
                return cached[1]
            answer = await asyncio.to_thread(self._compute, record, *args)
            self._answers[record.job_id] = (key, answer)
            return answer
