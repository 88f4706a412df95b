"""Worker records -> the same EpochRecord / TrialResult objects local training produces.

JSON carries NaN as null (the worker's server refuses NaN); metric fields get it back here.
The trained model is rebuilt from the spec the client sent, and only the weight arrays come
from the worker: nothing the worker sends is deserialized into code or layers.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from hpopt.gpu_proxy.protocol import ResultOutput
from hpopt.spec import EpochRecord, TrialResult, TrialSpec

EPOCH_FLOATS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
RESULT_FLOATS = ("val_accuracy", "train_seconds", "health_seconds", "inference_samples_per_s")


def epoch_record(raw: dict[str, Any]) -> EpochRecord:
    values = dict(raw)
    for key in EPOCH_FLOATS:
        if values.get(key) is None:
            values[key] = math.nan
    if values.get("health") is None:
        values["health"] = {}
    return EpochRecord.model_validate(values)


def trial_result(output: ResultOutput) -> TrialResult:
    """The worker's TrialResult, marked as run on the GPU proxy."""
    values = {k: v for k, v in output.result.items() if k != "model"}
    values["history"] = [epoch_record(r) for r in values.get("history") or []]
    for key in RESULT_FLOATS:
        if values.get(key) is None:
            values[key] = 0.0
    values["execution"] = "gpu_proxy"
    return TrialResult.model_validate(values)


def truncated(result: TrialResult, epochs: int) -> TrialResult:
    """``result`` as pruned after ``epochs`` epochs: the client's pruner stopped it there."""
    history = result.history[:epochs]
    best = _best(history)
    return result.model_copy(update={
        "history": history, "status": "pruned", "model": None, "val_accuracy": best[1], "best_epoch": best[0],
        "snapshots": [s for s in result.snapshots if s.get("epoch", 0) <= epochs],
    })


def pruned_from_epochs(history: Sequence[EpochRecord], worker: str = "") -> TrialResult:
    """A trial pruned by the client before the worker's result arrived."""
    best = _best(history)
    return TrialResult(history=list(history), status="pruned", val_accuracy=best[1], best_epoch=best[0],
                       param_count=0, train_seconds=sum(r.seconds for r in history if math.isfinite(r.seconds)),
                       execution="gpu_proxy", worker=worker)


def _best(history: Sequence[EpochRecord]) -> tuple[int, float]:
    scores = [(r.val_accuracy, -r.epoch) for r in history if math.isfinite(r.val_accuracy)]
    if not scores:
        return 0, 0.0
    value, negative_epoch = max(scores)
    return -negative_epoch, value


def model_with_weights(spec: TrialSpec, steps_per_epoch: Optional[int], weights: Sequence[np.ndarray]) -> Any:
    """The spec's model (same builder as training) holding the worker's trained weights.

    Raises ValueError when the weights do not fit the architecture.
    """
    from hpopt.models import build_model

    model = build_model(spec, steps_per_epoch=steps_per_epoch)
    expected = [tuple(w.shape) for w in model.weights]
    actual = [tuple(w.shape) for w in weights]
    if expected != actual:
        raise ValueError(f"the worker returned {len(actual)} weight arrays that do not fit the spec's model "
                         f"({len(expected)} expected)")
    model.set_weights(list(weights))
    # Build the optimizer's (zeroed) slots so best_model.keras saves and loads without a
    # variable-count mismatch; its moments and step count are not transferred.
    model.optimizer.build(model.trainable_variables)
    return model
