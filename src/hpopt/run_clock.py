"""The run's clock: when it was launched and when ``timeout_hours`` ends it.

A timeout bounds cost (a CI job, a paid GPU), so it is a deadline for the whole run counted
from the process launch (TensorFlow's import included), not a rule about starting trials:
the search stops early enough to leave ``finalize_reserve`` seconds for the test
evaluation and the results folder, and the running trial stops at the end of a batch.
No TensorFlow here: the CLI reads the launch time before anything heavy is imported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

# Share of the timeout kept for what follows the search (test evaluation, plots, report), within bounds.
FINALIZE_SHARE = 0.08
FINALIZE_MIN_S = 8.0
FINALIZE_MAX_S = 300.0

_IMPORTED_AT = time.time()


def process_launch_time() -> float:
    """Unix time this process started (Linux: /proc/self/stat against CLOCK_BOOTTIME, to 10 ms),
    else when this module was imported."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        # Field 22 counts clock ticks since boot; the command name (field 2) may hold spaces.
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        since_boot = int(fields[19]) / ticks
        boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT
    return min(boot + since_boot, _IMPORTED_AT)


def utc_stamp(timespec: str = "seconds") -> str:
    """Now as ISO 8601 UTC with a Z (``2026-12-01T07:30:00Z``): every timestamp hpopt writes."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def finalize_reserve(timeout_s: float) -> float:
    """Seconds kept after the search for the test evaluation and results (never above a quarter)."""
    reserve = min(max(timeout_s * FINALIZE_SHARE, FINALIZE_MIN_S), FINALIZE_MAX_S)
    return min(reserve, timeout_s / 4)


@dataclass(frozen=True)
class RunClock:
    """Launch time, the configured timeout, and the search's deadline (unix seconds; None: no limit)."""

    launched_at: float
    timeout_s: Optional[float] = None

    @classmethod
    def start(cls, timeout_hours: Optional[float], launched_at: Optional[float] = None) -> "RunClock":
        return cls(launched_at=time.time() if launched_at is None else launched_at,
                   timeout_s=None if timeout_hours is None else timeout_hours * 3600)

    @property
    def search_deadline(self) -> Optional[float]:
        """When trials must have stopped: the timeout less the reserve for finishing the run."""
        if self.timeout_s is None:
            return None
        return self.launched_at + self.timeout_s - finalize_reserve(self.timeout_s)

    def search_time_left(self) -> Optional[float]:
        """Seconds until the search deadline (0 once passed); None without a timeout."""
        deadline = self.search_deadline
        return None if deadline is None else max(0.0, deadline - time.time())

    def since_launch(self, at: Optional[float] = None) -> float:
        return (time.time() if at is None else at) - self.launched_at

    def wall_time(self, search_ended_at: float, finished_at: Optional[float] = None) -> dict[str, object]:
        """summary.json's ``wall_time``: the search and the finishing work, against the timeout."""
        finished_at = time.time() if finished_at is None else finished_at
        total = finished_at - self.launched_at
        return {
            "launched_at_unix": round(self.launched_at, 3),
            "search_s": round(search_ended_at - self.launched_at, 3),
            "finalize_s": round(finished_at - search_ended_at, 3),
            "total_s": round(total, 3),
            "timeout_s": self.timeout_s,
            "deadline_met": None if self.timeout_s is None else total <= self.timeout_s,
        }
