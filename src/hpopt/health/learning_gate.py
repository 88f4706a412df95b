"""Did the model learn at all (the gate on overall health), and accuracy per parameter."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from hpopt.health._common import _EFFICIENCY_ALPHA, _EFFICIENCY_P0, _LEARNING_SCALE, _clip01, _epoch, _num, _series


def parameter_efficiency(accuracy: float, param_count: float) -> float:
    """Accuracy discounted by model size: ``accuracy · (1 + P/1000)^(−0.15)``.

    Each 10× more parameters multiplies the score by ≈0.71 (at accuracy 0.9: 10K→0.63,
    100K→0.45, 1M→0.32, 10M→0.23).  Strictly decreasing in ``P``, strictly increasing in
    accuracy, within [0, accuracy].  Accuracy is clipped to [0, 1]; non-finite → 0.
    """
    acc, p = _num(accuracy), _num(param_count)
    if not (math.isfinite(acc) and math.isfinite(p)):
        return 0.0
    acc = min(1.0, max(0.0, acc))
    return _clip01(acc * (1.0 + max(p, 0.0) / _EFFICIENCY_P0) ** (-_EFFICIENCY_ALPHA))


def _kept_record(history: Sequence[Mapping[str, Any]], best_epoch: Optional[int]) -> Optional[Mapping[str, Any]]:
    """The epoch record of the weights a trial keeps: ``best_epoch``'s, else the first best val_accuracy."""
    if not history:
        return None
    if best_epoch is not None:
        for i, record in enumerate(history):
            if _epoch(record, i) == best_epoch:
                return record
    val = _series(history, "val_accuracy")
    if np.isfinite(val).any():
        return history[int(np.argmax(np.where(np.isfinite(val), val, -np.inf)))]
    return history[-1]


def _learning(
    accuracy: float,
    history: Sequence[Mapping[str, Any]],
    num_classes: Optional[int],
    best_epoch: Optional[int] = None,
) -> tuple[float, Optional[str]]:
    """``(learning, why it could not be measured or None)``; see :func:`learning`."""
    k = _num(num_classes)
    if not (math.isfinite(k) and k >= 2):
        return 0.0, "class count unknown: chance level cannot be placed"
    acc = _num(accuracy)
    if not math.isfinite(acc):
        return 0.0, "no finite validation accuracy"
    record = _kept_record(history, best_epoch)
    kept = () if record is None else (_num(record.get("loss")), _num(record.get("val_loss")))
    losses = [v for v in kept if math.isfinite(v)]
    if not losses:
        return 0.0, "no finite loss of the kept epoch"
    over_chance = (min(1.0, max(0.0, acc)) - 1.0 / k) / (1.0 - 1.0 / k)
    chance_loss = math.log(k)
    below_chance = (chance_loss - min(losses)) / chance_loss
    return _clip01(min(1.0, over_chance / _LEARNING_SCALE, below_chance / _LEARNING_SCALE)), None


def learning(
    accuracy: float,
    history: Sequence[Mapping[str, Any]],
    num_classes: Optional[int],
    *,
    best_epoch: Optional[int] = None,
) -> float:
    """Evidence that the model learned anything: the gate of :func:`overall_health`.

    With ``k`` classes, ``accuracy`` the validation accuracy of the kept weights and
    ``L*`` the lower of the training and validation loss of the kept epoch (``best_epoch``;
    by default the first epoch of the highest ``val_accuracy``)::

        A = (accuracy − 1/k) / (1 − 1/k)          # accuracy over chance, 0 at a uniform guess
        R = (ln k − L*) / ln k                     # share of the chance loss ln k shed
        learning = clip(min(1, A / 0.2, R / 0.2), 0, 1)

    A fifth of the way from chance to perfect accuracy, and a loss a fifth below chance,
    count as learning in full.  A model at chance (A ≈ 0, or a loss not below 0.9·ln k,
    R ≤ 0.1) scores ≤ 0.5, so its overall_health is at most half its weighted mean; for
    ``k ≥ 6`` an accuracy within 1.5× chance does too.  The lower of the two losses is
    used because the training loss is averaged over an epoch of changing weights (with
    dropout active), and the validation loss alone punishes overconfident but accurate
    models.  0 when ``k`` is unknown or nothing is finite.
    """
    return _learning(accuracy, history, num_classes, best_epoch)[0]
