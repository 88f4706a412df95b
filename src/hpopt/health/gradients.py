"""Gradient flow: vanishing or exploding gradient norms per layer, and their spread."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from hpopt.health._common import _BAND_WIDTH, _SPREAD_SCALE, EXPLODING_NORM, VANISHING_NORM, _clip01, _num, _sigmoid


def _gradient_norms(snapshot: Mapping[str, Any]) -> dict[str, float]:
    """{layer: gradient norm} for layers that report one; nan when marked non-finite."""
    out: dict[str, float] = {}
    for i, layer in enumerate((snapshot or {}).get("layers") or ()):
        grads = layer.get("gradients")
        if not grads or grads.get("norm") is None:
            continue
        norm = _num(grads.get("norm"))
        if grads.get("finite") is False or not math.isfinite(norm) or norm < 0:
            norm = math.nan
        out[str(layer.get("name", f"layer_{i}"))] = norm
    return out


def _gradient_snapshot_score(norms: np.ndarray) -> float:
    logs = np.log10(np.maximum(norms, 1e-30))
    band = _sigmoid((logs - math.log10(VANISHING_NORM)) / _BAND_WIDTH) * _sigmoid(
        (math.log10(EXPLODING_NORM) - logs) / _BAND_WIDTH
    )
    spread = float(logs.max() - logs.min())
    return float(band.mean()) / (1.0 + (spread / _SPREAD_SCALE) ** 4)


def gradient_health(snapshots: Sequence[Mapping[str, Any]]) -> float:
    """Health of the per-layer loss-gradient norms ``g_l``.

    ``0`` if any recorded norm is non-finite (or flagged ``finite: False``), else
    ``½·S_last + ½·mean_t S_t`` over snapshots ``t`` with gradients, where::

        S_t = mean_l b(log10 g_l) · 1 / (1 + (D_t / 4)^4)
        b(x) = σ((x + 7) / 0.5) · σ((3 − x) / 0.5)      # > 0.98 for 1e-5 ≤ g ≤ 10
        D_t  = max_l log10 g_l − min_l log10 g_l         # spread across depth, decades

    ``b`` is 0.5 at the vanishing (1e-7) and exploding (1e3) norms and falls ≈7× per
    further decade (1e-10 or 1e6 → 0.0025); a 100× spread between layers keeps 94 %,
    10⁴× halves the score.  Returns 0.0 when no snapshot has gradient norms.
    """
    scores = []
    for snap in snapshots or ():
        norms = np.array(list(_gradient_norms(snap).values()), dtype=float)
        if norms.size == 0:
            continue
        if not np.all(np.isfinite(norms)):
            return 0.0
        scores.append(_gradient_snapshot_score(norms))
    if not scores:
        return 0.0
    return _clip01(0.5 * scores[-1] + 0.5 * float(np.mean(scores)))
