"""Objectives and scoring: what a trial's value is in simple, health and pareto mode.

Every objective has a raw value (what a person reads: seconds, MB, accuracy), an Optuna
direction for simple mode, and a score in [0, 1] (higher is better) so that health mode
can blend it with overall_health on one scale:

    health mode value = (1 - health_weight) * score(objective) + health_weight * overall_health
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

from hpopt.spec import TrialResult


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # "maximize" | "minimize" (simple mode)
    raw: Callable[[TrialResult], float]
    score: Callable[[float], float]  # raw -> [0, 1], higher is better
    unit: str = ""


def _final_train_accuracy(result: TrialResult) -> float:
    for record in result.history:
        if record.epoch == result.best_epoch:
            return record.accuracy
    return result.history[-1].accuracy if result.history else 0.0


def model_megabytes(result: TrialResult) -> float:
    """Size of the weights in float32, the memory a deployed model needs at least."""
    return result.param_count * 4 / 1e6


def _clip01(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("val_accuracy", "maximize", lambda r: r.val_accuracy, _clip01),
        Objective("accuracy", "maximize", _final_train_accuracy, _clip01),
        # 60 s of training scores 0.5, 0 s scores 1.
        Objective("training_time", "minimize", lambda r: r.train_seconds, lambda s: 1.0 / (1.0 + max(s, 0.0) / 60.0), "s"),
        Objective("parameter_efficiency", "maximize", lambda r: float(r.health.get("parameter_efficiency", 0.0)), _clip01),
        # 0.04 MB (10K params) scores 0.95, 4 MB (1M params) 0.30, 40 MB 0.19.
        Objective("memory_efficiency", "minimize", model_megabytes, lambda mb: 1.0 / (1.0 + math.log2(1.0 + max(mb, 0.0))), "MB"),
        # 10,000 samples/s scores 0.5.
        Objective("inference_speed", "maximize", lambda r: r.inference_samples_per_s, lambda s: max(s, 0.0) / (max(s, 0.0) + 10_000.0), "samples/s"),
        Objective("overall_health", "maximize", lambda r: float(r.health.get("overall_health", 0.0)), _clip01),
        Objective("neuron_utilization", "maximize", lambda r: float(r.health.get("neuron_utilization", 0.0)), _clip01),
        Objective("training_stability", "maximize", lambda r: float(r.health.get("training_stability", 0.0)), _clip01),
    )
}

PARETO_OBJECTIVES = ("val_accuracy", "overall_health")


def study_directions(mode: str, optimize_for: str) -> list[str]:
    """Optuna directions of the study for a mode."""
    if mode == "pareto":
        return ["maximize", "maximize"]
    if mode == "health":
        return ["maximize"]
    return [OBJECTIVES[optimize_for].direction]


def trial_value(mode: str, optimize_for: str, health_weight: float, result: TrialResult) -> Union[float, tuple[float, float]]:
    """The value Optuna optimizes for this trial."""
    if mode == "pareto":
        return (result.val_accuracy, float(result.health.get("overall_health", 0.0)))
    objective = OBJECTIVES[optimize_for]
    raw = objective.raw(result)
    if mode == "simple":
        return raw
    score = objective.score(raw)
    return (1.0 - health_weight) * score + health_weight * float(result.health.get("overall_health", 0.0))


def score_breakdown(optimize_for: str, health_weight: float, result: TrialResult) -> dict[str, float]:
    """Why a trial got its value: the raw objective, its [0,1] score and the blend."""
    objective = OBJECTIVES[optimize_for]
    raw = objective.raw(result)
    score = objective.score(raw)
    overall = float(result.health.get("overall_health", 0.0))
    return {
        "objective": optimize_for,
        "objective_raw": float(raw),
        "objective_score": float(score),
        "overall_health": overall,
        "combined_score": float((1.0 - health_weight) * score + health_weight * overall),
    }
