"""The overall health score and ``compute_health``, which assembles every metric of one trial."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

from hpopt.health._common import _CONSISTENCY_MIN_EPOCHS, _clip01, _epoch, _num
from hpopt.health.curves import (
    accuracy_consistency,
    convergence_quality,
    generalization_gap,
    overfitting_epoch,
    training_stability,
)
from hpopt.health.gradients import _gradient_norms, gradient_health
from hpopt.health.learning_gate import _learning, parameter_efficiency
from hpopt.health.neurons import _layer_alive, neuron_utilization

#: Names of the metrics that ``compute_health`` reports in [0, 1].
HEALTH_METRICS: tuple[str, ...] = (
    "neuron_utilization",
    "gradient_health",
    "training_stability",
    "convergence_quality",
    "accuracy_consistency",
    "generalization",
    "parameter_efficiency",
    "learning",
    "overall_health",
)

#: Default weights of ``overall_health``.  ``parameter_efficiency`` is reported but
#: deliberately not part of the health score (model size is a preference, not a
#: sign of sick training); pass ``weights`` to include it.  ``learning`` is not a
#: weight: it multiplies the weighted mean.
DEFAULT_WEIGHTS: dict[str, float] = {
    "neuron_utilization": 0.25,
    "gradient_health": 0.25,
    "training_stability": 0.2,
    "convergence_quality": 0.1,
    "accuracy_consistency": 0.1,
    "generalization": 0.1,
}


def overall_health(metrics: Mapping[str, Any], weights: Optional[Mapping[str, float]] = None) -> float:
    """``learning · Σ w_m·m / Σ w_m`` over every metric in ``weights``.

    Default weights: :data:`DEFAULT_WEIGHTS` (neuron_utilization 0.25, gradient_health
    0.25, training_stability 0.2, convergence_quality 0.1, accuracy_consistency 0.1,
    generalization 0.1; parameter_efficiency not included).  A missing (or ``None``,
    or non-finite) metric counts as 0 instead of being skipped, so every trial is scored
    on the same basis; ``learning`` (:func:`learning`) counts as 0 when missing too.
    Values are clipped to [0, 1].  Returns 0.0 when nothing is weighted.
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    total = acc = 0.0
    for name, w in weights.items():
        w = _num(w)
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weight for {name!r} must be a finite non-negative number, got {w}")
        total += w
        acc += w * _clip01(metrics.get(name))
    if total <= 0:
        return 0.0
    return _clip01(_clip01(metrics.get("learning")) * acc / total)


def compute_health(
    history: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
    *,
    param_count: float,
    accuracy: float,
    num_classes: Optional[int] = None,
    best_epoch: Optional[int] = None,
    weights: Optional[Mapping[str, float]] = None,
) -> dict[str, Any]:
    """All health metrics of one trained model as a flat, JSON-serializable dict.

    ``snapshots[-1]`` must describe the weights being judged (``run_trial`` takes it of
    the kept, best-epoch weights): neuron_utilization, per_layer's dead fractions and
    gradient_health's last term read it; earlier snapshots give gradient_health's trend.
    ``accuracy`` is the kept weights' validation accuracy, ``best_epoch`` their epoch
    (for :func:`learning`), ``num_classes`` gives the chance loss ``ln(classes)``.

    Keys: every metric of :data:`HEALTH_METRICS`, always (a plain float in [0, 1], never
    nan; ``generalization`` is the gap score), ``unmeasured`` = ``{metric: reason}`` for
    those that could not be measured and so score 0, ``generalization_gap`` (raw train −
    val accuracy, may be negative; ``None`` if not finite), ``overfitting_epoch`` (int or
    ``None``) and ``per_layer`` = ``{"dead_fraction": {layer: float}`` (last snapshot),
    ``"gradient_norms": {layer: [norm or None per snapshot]}``, ``"snapshot_epochs": [int]}``.
    ``weights`` is passed to :func:`overall_health`.
    """
    history = list(history or ())
    snapshots = list(snapshots or ())
    out: dict[str, Any] = {}
    unmeasured: dict[str, str] = {}
    counts = _layer_alive(snapshots[-1]) if snapshots else {}
    _weight_metrics(out, unmeasured, snapshots, counts)
    chance = math.log(num_classes) if num_classes and num_classes > 1 else None
    _curve_metrics(out, unmeasured, history, chance)
    out["parameter_efficiency"] = parameter_efficiency(accuracy, param_count)
    out["learning"], reason = _learning(accuracy, history, num_classes, best_epoch)
    if reason:
        unmeasured["learning"] = reason
    out["overall_health"] = overall_health(out, weights)
    out["unmeasured"] = unmeasured
    out["per_layer"] = _per_layer(snapshots, counts)
    return {key: out[key] for key in (*HEALTH_METRICS, *[k for k in out if k not in HEALTH_METRICS])}


def _weight_metrics(out: dict[str, Any], unmeasured: dict[str, str], snapshots: list[Mapping[str, Any]],
                    counts: dict[str, tuple[int, int]]) -> None:
    """neuron_utilization and gradient_health, from the snapshots (0 and a reason when unmeasurable)."""
    if counts:
        out["neuron_utilization"] = _clip01(neuron_utilization(snapshots[-1])[0])
    else:
        out["neuron_utilization"] = 0.0
        unmeasured["neuron_utilization"] = ("no snapshot of the kept weights" if not snapshots
                                            else "the last snapshot has no measurable layer activations")
    if snapshots and _gradient_norms(snapshots[-1]):
        out["gradient_health"] = gradient_health(snapshots)
        return
    out["gradient_health"] = 0.0
    unmeasured["gradient_health"] = ("no snapshot of the kept weights" if not snapshots
                                     else "the last snapshot has no gradient norms")


def _curve_metrics(out: dict[str, Any], unmeasured: dict[str, str], history: list[Mapping[str, Any]],
                   chance: Optional[float]) -> None:
    """The metrics of the loss and accuracy curves (0 and a reason each when no epoch completed)."""
    if not history:
        for metric in ("training_stability", "convergence_quality", "accuracy_consistency", "generalization"):
            out[metric] = 0.0
            unmeasured[metric] = "no epoch completed"
        out["generalization_gap"] = out["overfitting_epoch"] = None
        return
    out["training_stability"] = training_stability(history, chance)
    out["convergence_quality"] = convergence_quality(history, chance)
    out["accuracy_consistency"] = accuracy_consistency(history)
    if len(history) < _CONSISTENCY_MIN_EPOCHS:
        unmeasured["accuracy_consistency"] = f"{len(history)} epoch(s): consistency needs {_CONSISTENCY_MIN_EPOCHS}"
    if history[-1].get("val_accuracy") is not None:
        score, gap = generalization_gap(history)
        out["generalization"] = score
        out["generalization_gap"] = gap if math.isfinite(gap) else None
    else:
        out["generalization"] = 0.0
        unmeasured["generalization"] = "no validation accuracy recorded"
        out["generalization_gap"] = None
    out["overfitting_epoch"] = overfitting_epoch(history)


def _per_layer(snapshots: list[Mapping[str, Any]], counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Dead fraction per layer (last snapshot), gradient norm per layer per snapshot, snapshot epochs."""
    grad_series: dict[str, list[Optional[float]]] = {}
    per_snapshot = [_gradient_norms(s) for s in snapshots]
    for norms in per_snapshot:
        for name in norms:
            grad_series.setdefault(name, [])
    for name, series in grad_series.items():
        for norms in per_snapshot:
            g = norms.get(name, math.nan)
            series.append(float(g) if math.isfinite(g) else None)
    return {
        "dead_fraction": {name: float(1.0 - alive / total) for name, (alive, total) in counts.items()},
        "gradient_norms": grad_series,
        "snapshot_epochs": [_epoch(s, i) for i, s in enumerate(snapshots)],
    }
