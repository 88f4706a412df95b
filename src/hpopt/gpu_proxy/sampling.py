"""gpu_proxy_sample_percentage: an explicit, seeded, stratified and shuffled training sample.

The old proxy silently cut the data; here the cut is opt-in, logged, and keeps the class
proportions (stratified) so a smaller upload does not skew what the model learns. Only the
training split is sampled: every trial is still scored on the whole validation split, so
values stay comparable with local trials.
"""

from __future__ import annotations

import logging

import numpy as np

from hpopt.gpu_proxy.payload import TrainingArrays

logger = logging.getLogger(__name__)


def sample_indices(y: np.ndarray, fraction: float, seed: int, stratified: bool = True) -> np.ndarray:
    """Shuffled indices of about ``fraction`` of ``y``; every present class keeps at least one sample."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction!r}: expected 0 < fraction <= 1")
    rng = np.random.default_rng(seed)
    n = len(y)
    if fraction >= 1.0:
        return rng.permutation(n)
    if not stratified:
        return rng.permutation(n)[: max(1, round(fraction * n))]
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        take = max(1, round(fraction * len(members)))
        chosen.append(rng.permutation(members)[:take])
    return rng.permutation(np.concatenate(chosen))


def sample_training(data: object, fraction: float, seed: int, stratified: bool = True) -> TrainingArrays:
    """The arrays sent to the proxy: a sample of the training split, the whole validation split."""
    arrays = TrainingArrays.of(data)
    if fraction >= 1.0:
        return arrays
    index = sample_indices(arrays.y_train, fraction, seed, stratified)
    logger.info("GPU proxy: sending %d of %d training samples (gpu_proxy_sample_percentage=%g, %s)",
                len(index), len(arrays.y_train), fraction, "stratified" if stratified else "not stratified")
    return TrainingArrays(arrays.x_train[index], arrays.y_train[index], arrays.x_val, arrays.y_val)
