"""Train / validation / test splitting: stratified, seeded, and checked per class.

Stratification keeps the class proportions of validation equal to training, so the
validation accuracy that Optuna optimizes is not skewed by a lucky split; the seed makes
every run (and every worker) see the same split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from .base import DatasetError

logger = logging.getLogger(__name__)


def check_fraction(name: str, value: float) -> float:
    """A split fraction must lie strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < 1.0:
        raise DatasetError(f"{name}={value!r}: expected a fraction strictly between 0 and 1 (e.g. 0.2)")
    return float(value)


def samples_needed(test_size: float | None, validation_split: float) -> int:
    """Samples a class needs so that, after the splits, training keeps at least 2."""
    pool = max(2, math.ceil(2 / (1 - validation_split)))
    return pool if test_size is None else max(2, math.ceil(pool / (1 - test_size)))


def _check_counts(
    y: np.ndarray, class_names: Sequence[str], where: str, minimum: int, needed: int,
    *, allow_missing: bool,
) -> None:
    counts = np.bincount(y, minlength=len(class_names))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        raise DatasetError(
            f"{where} holds {len(present)} class(es); classification needs at least 2"
        )
    for label, count in enumerate(counts):
        if count == 0 and allow_missing:
            continue
        if count < minimum:
            raise DatasetError(
                f"class {class_names[label]!r} has {count} sample(s) in {where}; every class "
                f"needs at least {needed} samples so that training keeps 2 after the "
                "validation/test split. Add samples, drop the class, or lower "
                "validation_split / test_size."
            )
    missing = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if missing:
        logger.warning("%s has no samples of %d class(es): %s", where, len(missing), missing[:10])


def _split(indices: np.ndarray, y: np.ndarray, fraction: float, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split  # lazy: 1 s import, not for validation

    try:
        keep, held = train_test_split(
            indices, test_size=fraction, stratify=y[indices], random_state=seed, shuffle=True
        )
    except ValueError as exc:  # e.g. the held-out part is smaller than the number of classes
        raise DatasetError(
            f"cannot carve a stratified {what} split from {len(indices)} samples: {exc}. "
            "Use more samples or a larger fraction."
        ) from exc
    return np.asarray(keep), np.asarray(held)


def split_indices(
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    carve_test: bool,
    test_size: float,
    validation_split: float,
    seed: int,
    allow_missing_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Indices (train, val, test-or-None) into ``y``.

    ``carve_test``: no publisher test set, so ``test_size`` is held out first. Validation
    then comes from what is left. Train comes back shuffled (seeded); val and test are
    stratified samples. Raises DatasetError when a class is too small to split.
    """
    validation_split = check_fraction("validation_split", validation_split)
    test_size = check_fraction("test_size", test_size)
    needed = samples_needed(test_size if carve_test else None, validation_split)
    _check_counts(y, class_names, "the training data", 2, needed, allow_missing=allow_missing_classes)
    pool = np.arange(len(y))
    test = None
    if carve_test:
        pool, test = _split(pool, y, test_size, seed, "test")
        _check_counts(y[pool], class_names, "the training part left after the test split", 2, needed,
                      allow_missing=allow_missing_classes)
    train, val = _split(pool, y, validation_split, seed, "validation")
    _check_counts(y[train], class_names, "the training part left after the validation split", 2, needed,
                  allow_missing=allow_missing_classes)
    return train, val, test
