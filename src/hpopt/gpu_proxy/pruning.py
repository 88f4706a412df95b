"""Pruning without a round trip per epoch: thresholds go out with the spec, the worker stops itself.

RunPod jobs cannot be asked "should I go on?" between epochs (and the SDK's local server
returns a stream only when the job is over), so the client computes, when the trial is
dispatched, the value each epoch must beat for Optuna's MedianPruner not to prune it: the
median of the completed trials' intermediate values at that step, honouring the rule's
n_startup_trials, n_warmup_steps, interval_steps and n_min_trials (``MedianRule``: the study's
pruner is hpopt's ``SchedulableMedianPruner``, which states them publicly). The worker
compares its best value so far with them (the pruner's own rule) and stops. The client
then replays the epochs into Optuna, whose pruner takes the same decision, so the study
records the trial as pruned with every epoch it ran.

Other pruners (Hyperband) depend on state the worker cannot see: no thresholds are sent;
the client applies the pruner to each epoch as it arrives and cancels the job when it
prunes (on RunPod's real endpoints epochs stream live; the SDK's local server delivers
them at the end, so there the trial runs to its end and is pruned on replay).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import optuna
from optuna.pruners import MedianPruner
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpopt.gpu_proxy.protocol import PruningSchedule
from hpopt.spec import EpochRecord


@dataclass(frozen=True)
class MedianRule:
    """The median pruner's settings, kept where hpopt can read them (Optuna keeps them private)."""

    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


class SchedulableMedianPruner(MedianPruner):
    """Optuna's MedianPruner that also states its rule, so the GPU client can send its thresholds."""

    def __init__(self, rule: MedianRule) -> None:
        super().__init__(n_startup_trials=rule.n_startup_trials, n_warmup_steps=rule.n_warmup_steps,
                         interval_steps=rule.interval_steps, n_min_trials=rule.n_min_trials)
        self.rule = rule


def pruning_schedule(study: optuna.Study, epochs: int) -> Optional[PruningSchedule]:
    """Thresholds for a trial of ``epochs`` epochs started now; None when nothing can prune."""
    rule = getattr(study.pruner, "rule", None)
    if not isinstance(rule, MedianRule) or len(study.directions) > 1:
        return None  # Hyperband, no pruning, or a pruner whose rule hpopt cannot read
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed or len(completed) < rule.n_startup_trials:
        return None
    maximize = study.direction == StudyDirection.MAXIMIZE
    percentile = 50.0  # the median, either direction
    warmup, interval = rule.n_warmup_steps, rule.interval_steps
    thresholds: list[Optional[float]] = []
    # The last epoch is never pruned (hpopt's rule: a finished trial has nothing left to save).
    for step in range(1, epochs):
        if step < warmup or (step - warmup) % interval:
            thresholds.append(None)
            continue
        values = [t.intermediate_values[step] for t in completed if step in t.intermediate_values]
        if len(values) < rule.n_min_trials:
            thresholds.append(None)
            continue
        value = float(np.nanpercentile(np.array(values, dtype=float), percentile))
        thresholds.append(value if math.isfinite(value) else None)
    if not any(t is not None for t in thresholds):
        return None
    return PruningSchedule(direction="maximize" if maximize else "minimize", thresholds=thresholds)


class ScheduleReporter:
    """The worker's reporter: streams each epoch, stops the trial below the schedule or when cancelled."""

    def __init__(self, schedule: Optional[PruningSchedule], epochs: int,
                 on_epoch: Callable[[EpochRecord], None], cancelled: threading.Event) -> None:
        self.schedule = schedule
        self.epochs = epochs
        self.on_epoch = on_epoch
        self.cancelled = cancelled
        self.best: Optional[float] = None
        self.pruned_at: Optional[int] = None

    def report(self, record: EpochRecord) -> None:
        self.on_epoch(record)
        if self.cancelled.is_set():
            raise optuna.TrialPruned("cancelled by the client")
        if self.schedule is None:
            return
        value = record.objective_value
        if self.best is None:
            self.best = value
        else:
            better = max if self.schedule.direction == "maximize" else min
            self.best = better(self.best, value)
        if not record.final and record.epoch < self.epochs and self.schedule.should_stop(record.epoch, self.best):
            self.pruned_at = record.epoch
            raise optuna.TrialPruned(f"below the pruning threshold at epoch {record.epoch}")
