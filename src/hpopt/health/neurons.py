"""Dead units and neuron utilization, from the activations of the last snapshot."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from hpopt.health._common import _EXCLUDED_ACTIVATIONS, _EXCLUDED_KINDS, _values


def _is_excluded(layer: Mapping[str, Any]) -> bool:
    return layer.get("kind") in _EXCLUDED_KINDS or layer.get("activation_fn") in _EXCLUDED_ACTIVATIONS


def dead_unit_mask(
    unit_std: Sequence[float] | np.ndarray,
    unit_mean: Optional[Sequence[float] | np.ndarray] = None,
    *,
    rel_threshold: float = 1e-2,
    abs_threshold: float = 1e-6,
) -> np.ndarray:
    """Boolean mask of dead units: units whose output barely varies over the probe batch.

    Works for any activation: a dead ReLU (always 0), a saturated sigmoid/tanh (stuck at
    0/±1) and a collapsed swish all have a near-zero output std.  With ``s_i`` the unit's
    std and ``μ_i`` its mean::

        floor_i = abs_threshold · max(1, |μ_i|)
        ref     = median{ s_j : s_j ≥ floor_j }          (0 if no unit passes its floor)
        dead_i  ⇔ s_i < max(floor_i, rel_threshold · ref)   or s_i / μ_i non-finite

    The reference scale is the median over units that are not constant, so a layer with
    most units dead is still judged against its living units, and a layer whose units are
    all constant falls back to the absolute floor and is entirely dead.  The floor grows
    with ``|μ_i|`` because float32 cannot resolve variation below ~1e-7 of a value.
    """
    s = np.asarray(unit_std, dtype=float).ravel()
    if unit_mean is None:
        m = np.zeros_like(s)
    else:
        m = np.asarray(unit_mean, dtype=float).ravel()
        if m.shape != s.shape:
            raise ValueError(f"unit_mean has {m.size} values, unit_std has {s.size}")
    finite = np.isfinite(s) & np.isfinite(m)
    floor = abs_threshold * np.maximum(1.0, np.abs(np.where(finite, m, 0.0)))
    varying = finite & (s >= floor)
    ref = float(np.median(s[varying])) if varying.any() else 0.0
    threshold = np.maximum(floor, rel_threshold * ref)
    return ~finite | (np.where(finite, s, 0.0) < threshold)


def _layer_alive(snapshot: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{layer name: (alive units, units)} for measurable, non-output layers."""
    out: dict[str, tuple[int, int]] = {}
    for i, layer in enumerate((snapshot or {}).get("layers") or ()):
        acts = layer.get("activations")
        if not acts or _is_excluded(layer):
            continue
        std = acts.get("unit_std")
        if std is None or len(std) == 0:
            continue
        mean = acts.get("unit_mean")
        if mean is not None and len(mean) != len(std):
            mean = None
        dead = dead_unit_mask(_values(std), None if mean is None else _values(mean))
        out[str(layer.get("name", f"layer_{i}"))] = (int(dead.size - dead.sum()), int(dead.size))
    return out


def neuron_utilization(snapshot: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """Share of alive units in one snapshot: ``(overall, {layer: alive share})``.

    ``overall = Σ_layers alive units / Σ_layers units`` (unit-weighted), over layers that
    report activations; layers of kind ``"output"`` or with a softmax activation are
    excluded (a never-predicted class is not a dead neuron).  Dead units are decided by
    :func:`dead_unit_mask`; a layer whose outputs are all constant scores exactly 0.0.
    Returns ``(0.0, {})`` when no layer can be measured.
    """
    counts = _layer_alive(snapshot)
    per_layer = {name: alive / total for name, (alive, total) in counts.items()}
    units = sum(total for _, total in counts.values())
    if units == 0:
        return 0.0, {}
    return float(sum(alive for alive, _ in counts.values()) / units), per_layer
