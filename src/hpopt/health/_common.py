"""Shared helpers and tuning constants of the health metrics (numbers in, finite floats out)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

VANISHING_NORM = 1e-7  # gradient norm at which b(.) = 0.5 on the low side
EXPLODING_NORM = 1e3  # gradient norm at which b(.) = 0.5 on the high side
_BAND_WIDTH = 0.5  # decades; softness of the vanishing / exploding edges
_SPREAD_SCALE = 4.0  # decades of layer-norm spread at which the spread factor is 0.5
_GAP_SCALE = 0.3  # accuracy gap that scores 0 generalization
_JITTER_SCALE = 0.05  # std of val-accuracy changes that scores exp(-1)
_EFFICIENCY_ALPHA = 0.15
_BLOWUP_TOLERANCE = 1.2  # max epoch loss / chance loss tolerated before stability drops
_EFFICIENCY_P0 = 1e3
_LEARNING_SCALE = 0.2  # share of the way from chance (accuracy, loss) that counts as learning in full
_CONSISTENCY_MIN_EPOCHS = 3
_EXCLUDED_ACTIVATIONS = ("softmax",)
_EXCLUDED_KINDS = ("output",)


def _num(value: Any) -> float:
    """``float(value)``, or nan when it is missing / not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _clip01(value: float) -> float:
    """Plain float in [0, 1]; non-finite becomes 0.0."""
    value = _num(value)
    if not math.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, value)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _series(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([_num(h.get(key)) for h in history or ()], dtype=float)


def _epoch(record: Mapping[str, Any], index: int) -> int:
    """The record's integral ``epoch`` field, else its 1-based position."""
    e = _num(record.get("epoch")) if not isinstance(record.get("epoch"), bool) else math.nan
    return int(e) if math.isfinite(e) and e == int(e) else index + 1


def _values(seq: Any) -> np.ndarray:
    """1-D float array of a list of numbers; unreadable entries become nan."""
    return np.array([_num(v) for v in np.asarray(seq, dtype=object).ravel()], dtype=float)
