"""Train / validation / test splitting: stratified, seeded, and checked per class.

Stratification keeps the class proportions of validation equal to training, so the
validation accuracy that Optuna optimizes is not skewed by a lucky split; the seed makes
every run (and every worker) see the same split.

With ``groups`` (samples that are near-copies of each other, such as the ~30 frames of
one GTSRB track) whole groups go to one side: a random per-sample split would put frames
of the same physical sign in train and in validation/test, and the held-out accuracy would
measure recall of a seen sign instead of generalization.
"""

from __future__ import annotations

import logging
import math
import zlib
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


def _group_split(
    indices: np.ndarray, y: np.ndarray, groups: np.ndarray, fraction: float, seed: int, what: str,
    class_names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of ``indices`` as whole groups, stratified by class.

    A group belongs to its most frequent class. Per class, the groups are shuffled
    (seeded) and the first k are held out, k being the count whose sample total comes
    closest to ``fraction`` of the class, but at least 1 and at most all-but-one group:
    every class keeps a group for training and, where it has two, shows up held out too.
    A class with a single group stays in training only (logged as a warning).
    """
    rng = np.random.default_rng([seed, zlib.crc32(what.encode())])  # test and validation draw differently
    ids, inverse = np.unique(groups[indices], return_inverse=True)
    inverse = inverse.ravel()
    sizes = np.bincount(inverse, minlength=len(ids))
    per_class = np.zeros((len(ids), int(y[indices].max()) + 1), dtype=np.int64)
    np.add.at(per_class, (inverse, y[indices]), 1)
    majority = per_class.argmax(axis=1)
    held_groups: list[int] = []
    lonely: list[str] = []
    for label in np.unique(majority):
        members = np.flatnonzero(majority == label)
        members = members[rng.permutation(len(members))]
        if len(members) < 2:
            lonely.append(str(class_names[label]))
            continue
        cumulative = np.cumsum(sizes[members])
        target = fraction * cumulative[-1]
        k = int(np.argmin(np.abs(cumulative[:-1] - target))) + 1  # 1 .. len(members) - 1
        held_groups.extend(int(g) for g in members[:k])
    if lonely:
        logger.warning(
            "%d class(es) have a single group (track) left, kept in training and absent from the %s "
            "split: %s", len(lonely), what, lonely[:10])
    held_mask = np.isin(inverse, np.asarray(held_groups, dtype=np.int64))
    keep, held = indices[~held_mask], indices[held_mask]
    if len(held) == 0:
        raise DatasetError(
            f"cannot carve a group-wise {what} split: every class has a single group "
            f"({len(ids)} groups in all). Add data or use a dataset with more groups per class.")
    return keep[rng.permutation(len(keep))], held[rng.permutation(len(held))]


def split_indices(
    y: np.ndarray,
    class_names: Sequence[str],
    *,
    carve_test: bool,
    test_size: float,
    validation_split: float,
    seed: int,
    allow_missing_classes: bool = False,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Indices (train, val, test-or-None) into ``y``.

    ``carve_test``: no publisher test set, so ``test_size`` is held out first. Validation
    then comes from what is left. Train comes back shuffled (seeded); val and test are
    stratified samples. ``groups`` (one id per sample): no group is split across train,
    val and test (see _group_split); the fractions then hold approximately. Raises
    DatasetError when a class is too small to split.
    """
    validation_split = check_fraction("validation_split", validation_split)
    test_size = check_fraction("test_size", test_size)
    needed = samples_needed(test_size if carve_test else None, validation_split)
    _check_counts(y, class_names, "the training data", 2, needed, allow_missing=allow_missing_classes)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (len(y),):
            raise DatasetError(f"groups: expected one group id per sample ({len(y)}), got shape {groups.shape}")

    def split(part: np.ndarray, fraction: float, what: str) -> tuple[np.ndarray, np.ndarray]:
        if groups is None:
            return _split(part, y, fraction, seed, what)
        return _group_split(part, y, groups, fraction, seed, what, class_names)

    pool = np.arange(len(y))
    test = None
    if carve_test:
        pool, test = split(pool, test_size, "test")
        _check_counts(y[pool], class_names, "the training part left after the test split", 2, needed,
                      allow_missing=allow_missing_classes)
    train, val = split(pool, validation_split, "validation")
    _check_counts(y[train], class_names, "the training part left after the validation split", 2, needed,
                  allow_missing=allow_missing_classes)
    return train, val, test
