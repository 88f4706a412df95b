"""The benchmark's clock: when each tool saw which val_accuracy (no TensorFlow import here)."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class EpochLog:
    """Every epoch a tool finished inside the budget, timed from the tool's start.

    Time starts before the tool loads its data, so set-up is part of what it pays. Epochs
    that end after the budget are not recorded: they are not part of the comparison.
    """

    budget_s: float
    started: float = field(default_factory=time.perf_counter)
    epochs: list[tuple[float, float, Any]] = field(default_factory=list)  # (seconds, val_accuracy, trial)
    trials: set = field(default_factory=set)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def expired(self) -> bool:
        return self.elapsed() >= self.budget_s

    def trial_started(self, trial: Any) -> None:
        if not self.expired():
            self.trials.add(trial)

    def epoch(self, trial: Any, val_accuracy: Optional[float]) -> None:
        seconds = self.elapsed()
        if seconds <= self.budget_s and val_accuracy is not None and math.isfinite(val_accuracy):
            self.epochs.append((round(seconds, 3), float(val_accuracy), trial))

    def time_to(self, target: float) -> Optional[float]:
        """Seconds until any epoch first reached ``target`` val_accuracy; None if none did."""
        return next((t for t, acc, _ in self.epochs if acc >= target), None)

    def best(self) -> Optional[float]:
        return max((acc for _, acc, _ in self.epochs), default=None)


def median_or_none(values: list[Optional[float]]) -> Optional[float]:
    """Median where None means "never" (sorts last): half the runs must have a value."""
    ordered = sorted(values, key=lambda v: math.inf if v is None else v)
    if not ordered:
        return None
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    low, high = ordered[n // 2 - 1], ordered[n // 2]
    return None if low is None or high is None else statistics.mean([low, high])
