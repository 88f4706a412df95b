"""target_value: end the study once a finished trial is good enough.

Every process running trials (this one, each worker of workers=N) checks the study's storage
after each trial, so a target reached by any worker stops them all from taking new trials;
trials already running finish. Light: no Optuna import at module level.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)


def reaches(value: float, target: float, direction: str) -> bool:
    """Whether ``value`` is at least as good as ``target`` for a study to "maximize" or "minimize"."""
    return value <= target if direction == "minimize" else value >= target


def first_reaching(study: "optuna.Study", target: float) -> Optional["optuna.trial.FrozenTrial"]:
    """The earliest finished (complete) trial whose value reaches ``target``; None if none yet or
    the study is multi-objective (config refuses target_value there)."""
    import optuna

    if len(study.directions) != 1:
        return None
    direction = "minimize" if study.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
    hits = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.value is not None and reaches(t.value, target, direction)]
    return min(hits, key=lambda t: t.number) if hits else None


def stopped_reason(study: "optuna.Study", target: Optional[float]) -> Optional[str]:
    """``target_value 0.9 reached by trial 3 (value 0.93)``, or None when the target was not reached."""
    if target is None:
        return None
    trial = first_reaching(study, target)
    if trial is None:
        return None
    return f"target_value {target:g} reached by trial {trial.number} (value {trial.value:.4g})"


class StopAtTarget:
    """Optuna callback: stop this process's study.optimize once any trial of the study reached the target."""

    def __init__(self, target: Optional[float]) -> None:
        self.target = target

    def __call__(self, study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> None:
        if self.target is None:
            return
        reason = stopped_reason(study, self.target)
        if reason is not None:
            logger.info("stopping: %s", reason)
            study.stop()
