"""What the loss and accuracy curves say: stability, convergence, consistency, the generalization gap."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from hpopt.health._common import (
    _BLOWUP_TOLERANCE,
    _CONSISTENCY_MIN_EPOCHS,
    _GAP_SCALE,
    _JITTER_SCALE,
    _clip01,
    _epoch,
    _num,
    _series,
)


def _blowup_factor(loss: np.ndarray, chance_loss: Optional[float]) -> float:
    """1 while every epoch's loss stays near or below chance, → 0 as it explodes above it."""
    if not chance_loss or chance_loss <= 0:
        return 1.0
    ratio = float(loss.max()) / chance_loss
    return 1.0 if ratio <= _BLOWUP_TOLERANCE else math.exp(-2.0 * (ratio - _BLOWUP_TOLERANCE))


def training_stability(history: Sequence[Mapping[str, Any]], chance_loss: Optional[float] = None) -> float:
    """Stability of the training-loss curve ``L_1..L_n``.

    ``0`` if any loss is non-finite, else::

        stability = 1 / (1 + e²) · (1 − U) · B
        e = (L_n − L_min) / (|L_min| + 0.01·|L_1|)    # divergence: final excess over best
        U = Σ_t max(ΔL_t, 0) / Σ_t |ΔL_t|              # share of loss movement that is upward
        B = 1 if r ≤ 1.2 else exp(−2·(r − 1.2)),  r = max_t L_t / L_chance   # blow-up above chance

    ``L_chance = ln(classes)`` is the loss of a uniform guess (an untrained model); an
    epoch whose mean loss is well above it means the updates blew the model up (too high
    a learning rate), even if the loss later collapses back to chance. Without
    ``chance_loss`` B = 1. A single finite epoch scores B.

    A monotone decrease scores 1; a final loss 50× the best scores ≈0; a loss that
    bounces fully back every other epoch (1, .5, 1, .5, …) scores 0.6.
    """
    loss = _series(history, "loss")
    if loss.size == 0 or not np.all(np.isfinite(loss)):
        return 0.0
    blowup = _blowup_factor(loss, chance_loss)
    if loss.size == 1:
        return _clip01(blowup)
    lmin = float(loss.min())
    excess = (loss[-1] - lmin) / (abs(lmin) + 0.01 * abs(loss[0]) + 1e-12)
    diffs = np.diff(loss)
    total = float(np.abs(diffs).sum())
    upward = float(np.clip(diffs, 0, None).sum()) / total if total > 0 else 0.0
    return _clip01(1.0 / (1.0 + excess**2) * (1.0 - upward) * blowup)


def convergence_quality(history: Sequence[Mapping[str, Any]], chance_loss: Optional[float] = None) -> float:
    """How far the training loss came down and whether it has levelled off.

    ``0`` if any loss is non-finite; with one epoch ``½·R`` against chance (0 without it); else::

        R = min(1, (L_ref − L_min) / (0.5·|L_ref|))                   # ≥50 % reduction = full
        L_ref = L_chance = ln(classes) when known, else L_1           # learning below a uniform guess
        τ = clip(|L_{n−k} − L_n| / (L_1 − L_min), 0, 1),  k = ⌈n/5⌉  # loss still moving at the end
        convergence = R · (1 − ½·τ)

    A loss that fell by half or more and is flat over the last fifth of training scores
    1; a flat loss scores 0; a loss still falling (or jumping back up) steeply at the
    end keeps half.
    """
    loss = _series(history, "loss")
    if loss.size == 0 or not np.all(np.isfinite(loss)):
        return 0.0
    if loss.size == 1:  # one epoch: only measurable against chance, and not yet settled
        if not chance_loss or chance_loss <= 0:
            return 0.0
        return _clip01(0.5 * min(1.0, (chance_loss - float(loss[0])) / (0.5 * chance_loss)))
    first, lmin = float(loss[0]), float(loss.min())
    reference = chance_loss if chance_loss and chance_loss > 0 else first
    reduction = max(first, reference) - lmin
    if reduction <= 0 or reference - lmin <= 0:
        return 0.0
    r = min(1.0, (reference - lmin) / (0.5 * abs(reference))) if reference != 0 else 1.0
    k = math.ceil(loss.size / 5)
    tau = min(1.0, abs(loss[-1 - k] - loss[-1]) / reduction)
    return _clip01(r * (1.0 - 0.5 * tau))


def accuracy_consistency(history: Sequence[Mapping[str, Any]]) -> float:
    """Steadiness of validation accuracy over the later epochs.

    With ``a`` the ``val_accuracy`` (``accuracy`` when no validation was recorded) of
    the last ``max(3, ⌈n/2⌉)`` epochs::

        consistency = exp(−std(Δa) / 0.05)

    The std of epoch-to-epoch changes ignores a steady climb and measures only jitter:
    ±0.01 jitter scores ≈0.8, ±0.2 swings score ≈0.  ``0`` if any of the used values is
    non-finite, and ``0`` with fewer than 3 epochs: one change has no spread to measure,
    and an unmeasured steadiness is not a proven one (``compute_health`` says why).
    """
    acc = _series(history, "val_accuracy")
    if acc.size and np.all(np.isnan(acc)):
        acc = _series(history, "accuracy")
    if acc.size == 0:
        return 0.0
    window = acc[-max(3, math.ceil(acc.size / 2)) :]
    if window.size < _CONSISTENCY_MIN_EPOCHS or not np.all(np.isfinite(window)):
        return 0.0
    return _clip01(math.exp(-float(np.std(np.diff(window))) / _JITTER_SCALE))


def generalization_gap(history: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """``(score, raw_gap)`` with ``raw_gap = accuracy_n − val_accuracy_n`` (last epoch).

    ``score = 1 − clip(raw_gap / 0.3, 0, 1)``: no gap (or val better than train) scores
    1, a 0.3 gap scores 0.  Non-finite or missing accuracies give ``(0.0, nan)``.
    """
    if not history:
        return 0.0, math.nan
    gap = _num(history[-1].get("accuracy")) - _num(history[-1].get("val_accuracy"))
    if not math.isfinite(gap):
        return 0.0, math.nan
    return _clip01(1.0 - gap / _GAP_SCALE), float(gap)


def overfitting_epoch(history: Sequence[Mapping[str, Any]], *, rel_tol: float = 0.01) -> Optional[int]:
    """Epoch (1-based, from the ``epoch`` field) after which validation loss got worse.

    The epoch of the minimum finite ``val_loss``, returned only when it is not the last
    epoch and the final ``val_loss`` exceeds that minimum by more than
    ``rel_tol·|min|`` (non-finite later values count as worse).  ``None`` otherwise.
    """
    vl = _series(history, "val_loss")
    finite = np.isfinite(vl)
    if not finite.any():
        return None
    best = int(np.argmin(np.where(finite, vl, np.inf)))
    if best == vl.size - 1:
        return None
    last = vl[-1]
    if math.isfinite(last) and last <= vl[best] + rel_tol * abs(vl[best]):
        return None
    return _epoch(history[best], best)
