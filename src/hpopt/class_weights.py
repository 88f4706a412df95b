"""class_weight: resolve auto/none/balanced to the weights every trial's loss uses.

Resolved once from the training split where the study runs and carried in the TrialSpec, so the
GPU worker (which may train on a sample) applies exactly the same weights as local training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

logger = logging.getLogger(__name__)

# auto turns balanced weights on when the largest class has more than this many times the
# samples of the smallest (GTSRB ~10x, Reuters ~1000x; mnist/cifar ~1.2x stay unweighted).
AUTO_IMBALANCE_RATIO = 3.0


@dataclass(frozen=True)
class ClassWeightChoice:
    """What class_weight resolved to, and why (for the log line and summary.json)."""

    setting: str  # the key's value: auto | none | balanced
    mode: str  # what applies: none | balanced
    weights: Optional[dict[int, float]]
    largest: int
    smallest: int

    @property
    def reason(self) -> str:
        ratio = self.largest / max(self.smallest, 1)
        return (f"class_weight={self.setting}: {self.mode} (training split: largest class {self.largest} samples, "
                f"smallest {self.smallest}, ratio {ratio:.1f}; auto weights above {AUTO_IMBALANCE_RATIO:g}x)")

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "mode": self.mode, "largest_class": self.largest,
                "smallest_class": self.smallest,
                "weights": None if self.weights is None else {str(k): v for k, v in self.weights.items()}}


def resolve_class_weight(setting: str, y_train: np.ndarray, num_classes: int) -> ClassWeightChoice:
    """Balanced weights n / (k * count) (sklearn's compute_class_weight) or none. A class absent
    from the training split keeps weight 1 (it has no samples to weigh)."""
    labels = np.asarray(y_train).astype(np.int64).ravel()
    counts = np.bincount(labels, minlength=num_classes)
    present = counts[counts > 0]
    largest, smallest = int(present.max()), int(present.min())
    mode = setting
    if setting == "auto":
        mode = "balanced" if largest > AUTO_IMBALANCE_RATIO * smallest else "none"
    weights = None
    if mode == "balanced":
        classes = np.flatnonzero(counts)
        computed = compute_class_weight("balanced", classes=classes, y=labels)
        weights = {c: 1.0 for c in range(num_classes)}
        weights.update({int(c): float(w) for c, w in zip(classes, computed)})
    return ClassWeightChoice(setting, mode, weights, largest, smallest)
