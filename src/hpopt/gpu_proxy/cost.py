"""What remote trials cost and whether the next one may still go out (gpu_budget_usd).

A trial's cost is ``billed_s x usd_per_hour / 3600``: billed_s is the endpoint's own execution
time when its status reports one (RunPod's executionTime), else the time from submitting the job
to its result. Before a trial is sent, its cost is estimated (the mean of the finished remote
trials, or the price x FIRST_GUESS_S_PER_EPOCH per epoch before any has finished) and reserved:
spent + reserved + estimate must stay within the budget. Costs already stored on the study's
trials (a resumed run, other workers) count as spent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["BUDGET_STOP_ATTR", "FIRST_GUESS_S_PER_EPOCH", "CostLedger", "cost_usd", "study_costs"]

BUDGET_STOP_ATTR = "gpu_budget_stopped_at_trial"  # study attribute: the first trial the budget kept off the proxy

FIRST_GUESS_S_PER_EPOCH = 30.0


def cost_usd(billed_s: float, usd_per_hour: Optional[float]) -> Optional[float]:
    """The cost of ``billed_s`` seconds (None without a price); the one formula every view uses."""
    if usd_per_hour is None:
        return None
    return billed_s * usd_per_hour / 3600.0


@dataclass
class CostLedger:
    """Thread-safe spend of this run's remote trials, keyed by trial number."""

    budget_usd: Optional[float] = None
    spent: dict[int, float] = field(default_factory=dict)
    reserved: dict[int, float] = field(default_factory=dict)
    stopped_at_trial: Optional[int] = None  # first trial refused by the budget (remote sending stopped there)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def estimate(self, usd_per_hour: float, epochs: int, earlier: dict[int, float]) -> float:
        """A trial's expected cost: the mean of the remote trials already paid for, else a first guess."""
        with self._lock:
            paid = list({**earlier, **self.spent}.values())
        if paid:
            return sum(paid) / len(paid)
        return usd_per_hour * FIRST_GUESS_S_PER_EPOCH * max(1, epochs) / 3600.0

    def reserve(self, key: int, estimate: float, earlier: dict[int, float]) -> tuple[bool, float]:
        """Hold ``estimate`` for trial ``key`` when it fits the budget; (fits, spent + reserved before it).
        Once a trial was refused, every later one is too: remote sending stopped there."""
        with self._lock:
            committed = sum({**earlier, **self.spent}.values()) + sum(self.reserved.values())
            if self.budget_usd is None:
                self.reserved[key] = estimate
                return True, committed
            if self.stopped_at_trial is not None or committed + estimate > self.budget_usd:
                if self.stopped_at_trial is None:
                    self.stopped_at_trial = key
                return False, committed
            self.reserved[key] = estimate
            return True, committed

    def settle(self, key: int, cost: Optional[float]) -> None:
        """Replace trial ``key``'s reservation by what it cost (unpriced: nothing)."""
        with self._lock:
            self.reserved.pop(key, None)
            if cost is not None:
                self.spent[key] = self.spent.get(key, 0.0) + cost

    def total(self) -> float:
        with self._lock:
            return sum(self.spent.values())


def study_costs(trial: Any, key: int) -> dict[int, float]:
    """cost_usd of the study's other trials (a resumed run, other workers): already spent."""
    if trial is None:
        return {}
    costs = {}
    for other in trial.study.get_trials(deepcopy=False):
        value = other.user_attrs.get("cost_usd")
        if other.number != key and isinstance(value, (int, float)):
            costs[other.number] = float(value)
    return costs
