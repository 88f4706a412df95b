"""Objectives and scoring: what a trial's value is in simple, health and pareto mode.

Every objective has a raw value (what a person reads: seconds, MB, accuracy), an Optuna
direction for simple mode, and a score in [0, 1] (higher is better) so that health mode
can blend it with overall_health on one scale:

    health mode value = (1 - health_weight) * score(objective) + health_weight * overall_health
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

from hpopt.spec import ObjectiveSpec, TrialResult


def improves(value: float, best: Optional[float], direction: str) -> bool:
    """Whether ``value`` beats ``best`` (None: nothing yet) for an objective to "maximize" or
    "minimize": the one rule for "which is best" (study, live job rows, best epoch so far)."""
    return best is None or (value < best if direction == "minimize" else value > best)


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # "maximize" | "minimize" (simple mode)
    raw: Callable[[TrialResult], float]
    score: Callable[[float], float]  # raw -> [0, 1], higher is better
    unit: str = ""
    per_epoch: bool = True  # measurable after every epoch, so the pruner can compare it


def _final_train_accuracy(result: TrialResult) -> float:
    for record in result.history:
        if record.epoch == result.best_epoch:
            return record.accuracy
    return result.history[-1].accuracy if result.history else 0.0


def model_megabytes(result: TrialResult) -> float:
    """Measured size of the model's weights in MB (1e6 bytes), the memory a deployed model
    needs at least; results without the measurement (an older GPU worker) count 4 bytes a
    parameter."""
    size = result.model_bytes if result.model_bytes > 0 else result.param_count * 4
    return size / 1e6


MIN_MEGABYTES = 1e-3  # 1 KB: keeps accuracy per MB finite for a degenerate (empty) model


def accuracy_per_megabyte(result: TrialResult) -> float:
    """memory_efficiency: validation accuracy per MB of weights (higher is better)."""
    return result.val_accuracy / max(model_megabytes(result), MIN_MEGABYTES)


def validation_metric(name: str) -> Callable[[TrialResult], float]:
    """A metric of the validation predictions (TrialResult.val_metrics). Per-epoch records do not
    carry it (one more pass over the validation data per epoch), so an epoch's value, what the
    pruner compares, is its val_accuracy; the trial's final value is the metric itself."""
    return lambda r: float(r.val_metrics.get(name, r.val_accuracy))


# Objectives computed from the returned weights' predictions on the validation split (run_trial).
PREDICTION_OBJECTIVES = ("macro_f1", "balanced_accuracy")


def _clip01(value: float) -> float:
    return 0.0 if not math.isfinite(value) else min(1.0, max(0.0, value))


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("val_accuracy", "maximize", lambda r: r.val_accuracy, _clip01),
        # Training accuracy of the returned weights; selecting on it rewards overfitting
        # (config's optimize_for=accuracy is an alias that says so).
        Objective("train_accuracy", "maximize", _final_train_accuracy, _clip01),
        # Classes count alike, however rare: sklearn's f1_score(average="macro") and
        # balanced_accuracy_score (mean recall) of the validation predictions.
        Objective("macro_f1", "maximize", validation_metric("macro_f1"), _clip01),
        Objective("balanced_accuracy", "maximize", validation_metric("balanced_accuracy"), _clip01),
        # 60 s of training scores 0.5, 0 s scores 1.
        Objective("training_time", "minimize", lambda r: r.train_seconds,
                  lambda s: 1.0 / (1.0 + max(s, 0.0) / 60.0), "s",
                  per_epoch=False),
        Objective("parameter_efficiency", "maximize", lambda r: float(r.health.get("parameter_efficiency", 0.0)),
                  _clip01),
        # Accuracy per MB a/(a+1): at accuracy 0.9, 0.04 MB (10K float32 params) scores 0.96,
        # 0.4 MB 0.69, 0.9 MB 0.5, 4 MB (1M params) 0.18, 40 MB 0.02.
        Objective("memory_efficiency", "maximize", accuracy_per_megabyte,
                  lambda a: 0.0 if not math.isfinite(a) else max(a, 0.0) / (max(a, 0.0) + 1.0), "accuracy/MB"),
        # 10,000 samples/s scores 0.5.
        Objective("inference_speed", "maximize", lambda r: r.inference_samples_per_s,
                  lambda s: max(s, 0.0) / (max(s, 0.0) + 10_000.0), "samples/s", per_epoch=False),
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


def trial_value(mode: str, optimize_for: str, health_weight: float,
                result: TrialResult) -> Union[float, tuple[float, float]]:
    """The value Optuna optimizes for this trial."""
    if mode == "pareto":
        return (result.val_accuracy, float(result.health.get("overall_health", 0.0)))
    objective = OBJECTIVES[optimize_for]
    raw = objective.raw(result)
    if mode == "simple":
        return raw
    score = objective.score(raw)
    return (1.0 - health_weight) * score + health_weight * float(result.health.get("overall_health", 0.0))


def prunable(mode: str, optimize_for: str) -> bool:
    """Whether the study's value exists after every epoch (so a pruner can compare trials on it)."""
    return mode != "pareto" and OBJECTIVES[optimize_for].per_epoch


def needs_epoch_health(objective: ObjectiveSpec) -> bool:
    """Whether the per-epoch value needs health metrics of the epochs so far."""
    return prunable(objective.mode, objective.optimize_for) and (
        objective.mode == "health" or objective.optimize_for in HEALTH_BASED)


HEALTH_BASED = ("parameter_efficiency", "overall_health", "neuron_utilization", "training_stability")


def epoch_value(objective: ObjectiveSpec, provisional: TrialResult) -> Optional[float]:
    """The trial's value if it ended with ``provisional`` (the epochs so far, the current epoch's
    weights): the same formula as the final value, so the pruner compares like with like and a
    pruned trial's value (Optuna keeps its last reported one) sits on the complete trials' scale.
    None where the objective is not measurable per epoch (pruning is then off)."""
    if objective.optimize_for not in OBJECTIVES or not prunable(objective.mode, objective.optimize_for):
        return None
    value = trial_value(objective.mode, objective.optimize_for, objective.health_weight, provisional)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


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
