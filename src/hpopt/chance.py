"""Chance level: the accuracy a model gets without learning anything from its inputs.

A model that always answers the most frequent class scores that class's share, so chance
is the majority share (1/classes on balanced data), not 1/classes. A trial is "not
learning" when neither its training nor its validation accuracy is clearly above it:
within two standard errors of a coin with that success rate, and never less than two
points above it.
"""

from __future__ import annotations

import math

import numpy as np

MIN_MARGIN = 0.02


def majority_share(labels: np.ndarray) -> float:
    """Share of the most frequent label (0.0 for no labels)."""
    labels = np.asarray(labels).ravel()
    if labels.size == 0:
        return 0.0
    return float(np.bincount(labels.astype(np.int64)).max() / labels.size)


def chance_ceiling(chance: float, samples: int) -> float:
    """The highest accuracy that still reads as chance on ``samples`` labels."""
    noise = 2.0 * math.sqrt(chance * (1.0 - chance) / max(samples, 1))
    return chance + max(MIN_MARGIN, noise)


class ChanceLevel:
    """Chance ceilings of one dataset's training and validation labels."""

    def __init__(self, y_train: np.ndarray, y_val: np.ndarray) -> None:
        self.train_ceiling = chance_ceiling(majority_share(y_train), len(y_train))
        self.val_ceiling = chance_ceiling(majority_share(y_val), len(y_val))

    def not_learning(self, best_val_accuracy: float, train_accuracy: float) -> bool:
        """Neither the best validation accuracy so far nor the training accuracy beats chance."""
        return best_val_accuracy <= self.val_ceiling and train_accuracy <= self.train_ceiling
