"""run_trial: train one TrialSpec on one dataset, the same way wherever it runs.

The CLI, the API's job processes and the GPU worker all call this function unchanged.
It reports every epoch to a reporter (which may stop the trial by raising
``optuna.TrialPruned``), keeps the weights of the best epoch, and records health
statistics on a fixed probe batch.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from typing import Any, Optional, Protocol

import keras
import numpy as np
import optuna
import tensorflow as tf

from hpopt import health, interrupts
from hpopt.health_recorder import HealthRecorder
from hpopt.identity import worker_name
from hpopt.models import build_model, describe_model
from hpopt.spec import EpochRecord, TrialResult, TrialSpec

logger = logging.getLogger(__name__)


class TrainingData(Protocol):
    """What run_trial needs of a dataset: train and validation arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


class EpochReporter(Protocol):
    """Receives each epoch's record; raises optuna.TrialPruned to stop the trial.

    A reporter may also have ``model_built(architecture)``, called once with the layers
    (name, type, output_shape, params) before training starts.
    """

    def report(self, record: EpochRecord) -> None: ...


def input_pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: Optional[int] = None) -> tf.data.Dataset:
    """uint8 stays uint8 in memory and is cast per batch; the model rescales."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if x.dtype == np.uint8:
        dataset = dataset.map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class _TrialCallback(keras.callbacks.Callback):
    """Per-epoch bookkeeping: records, best weights, early stopping, NaN guard, health."""

    def __init__(self, spec: TrialSpec, reporter: Optional[EpochReporter], recorder: Optional[HealthRecorder]) -> None:
        super().__init__()
        self.spec = spec
        self.reporter = reporter
        self.recorder = recorder
        self.history: list[EpochRecord] = []
        self.snapshots: list[dict[str, Any]] = []
        self.best_val_accuracy = -math.inf
        self.best_epoch = 0
        self.best_weights: Optional[list[np.ndarray]] = None
        self.failure: Optional[str] = None
        self._epoch_started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        interrupts.check()  # Ctrl-C / API stop: end the trial here, at a safe point
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failure = f"non-finite loss ({float(loss)}) at epoch {len(self.history) + 1}, batch {batch + 1}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        if self.failure:
            return
        seconds = time.perf_counter() - self._epoch_started
        number = epoch + 1
        values = {key: float(logs.get(key, float("nan"))) for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
        record = EpochRecord(epoch=number, seconds=seconds, **values)
        if not all(math.isfinite(v) for v in values.values()):
            self.failure = f"non-finite loss or metric at epoch {number}: {values}"
            self.history.append(record)
            self.model.stop_training = True
            return
        if self.recorder is not None and (number % self.spec.health.frequency == 0 or number == self.spec.epochs):
            snapshot = self.recorder.snapshot(number)
            self.snapshots.append(snapshot)
            record.health = _live_health_summary(snapshot)
        self.history.append(record)
        if record.val_accuracy > self.best_val_accuracy:
            self.best_val_accuracy = record.val_accuracy
            self.best_epoch = number
            self.best_weights = self.model.get_weights()
        patience = self.spec.early_stopping_patience
        if patience is not None and number - self.best_epoch >= patience:
            logger.debug("early stopping at epoch %d (best %d)", number, self.best_epoch)
            self.model.stop_training = True
        if self.reporter is not None:
            self.reporter.report(record)  # may raise optuna.TrialPruned


def _live_health_summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Small per-epoch health view for live monitoring (dead share and gradient norm per layer)."""
    utilization, per_layer = health.neuron_utilization(snapshot)
    return {
        "neuron_utilization": utilization,
        "dead_fraction": {name: 1.0 - alive for name, alive in per_layer.items()},
        "gradient_norm": {layer["name"]: layer["gradients"]["norm"] for layer in snapshot["layers"] if "gradients" in layer},
    }


def _inference_speed(model: keras.Model, x_probe: np.ndarray) -> float:
    """Samples per second of a forward pass on the probe batch (second call, after tracing)."""
    batch = tf.convert_to_tensor(x_probe.astype("float32") if x_probe.dtype == np.uint8 else x_probe)
    model(batch, training=False)
    started = time.perf_counter()
    model(batch, training=False)
    return len(x_probe) / max(time.perf_counter() - started, 1e-9)


def run_trial(
    spec: TrialSpec,
    data: TrainingData,
    reporter: Optional[EpochReporter] = None,
    *,
    keep_model: bool = True,
) -> TrialResult:
    """Train ``spec`` on ``data``; never raises for a diverging or pruned trial.

    A pruned trial returns status "pruned", a NaN/inf loss returns status "failed"; the
    caller decides what that means for the study. Memory is released between trials
    (clear_session + gc) so a long study does not grow.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    steps_per_epoch = math.ceil(len(data.x_train) / spec.architecture.batch_size)
    model = build_model(spec, steps_per_epoch=steps_per_epoch)
    architecture = describe_model(model)
    if reporter is not None and hasattr(reporter, "model_built"):
        reporter.model_built(architecture)  # live views show the layers before the first epoch ends
    probe_size = min(spec.health.sample_size, len(data.x_val))
    x_probe, y_probe = data.x_val[:probe_size], data.y_val[:probe_size]
    recorder = HealthRecorder(model, x_probe, y_probe) if spec.health.enabled else None
    callback = _TrialCallback(spec, reporter, recorder)
    batch_size = spec.architecture.batch_size
    train = input_pipeline(data.x_train, data.y_train, batch_size, shuffle_seed=spec.seed)
    val = input_pipeline(data.x_val, data.y_val, batch_size)

    status = "complete"
    started = time.perf_counter()
    try:
        model.fit(train, validation_data=val, epochs=spec.epochs, verbose=0, shuffle=False,
                  callbacks=[callback])
    except optuna.TrialPruned:
        status = "pruned"
    train_seconds = time.perf_counter() - started
    if callback.failure:
        status = "failed"
    elif not callback.history and status == "complete":
        status, callback.failure = "failed", "no epoch completed"
    if callback.best_weights is not None:
        model.set_weights(callback.best_weights)

    history = [r.model_dump(exclude={"health"}) for r in callback.history]
    val_accuracy = callback.best_val_accuracy if math.isfinite(callback.best_val_accuracy) else 0.0
    metrics = health.compute_health(history, callback.snapshots, param_count=model.count_params(),
                                    accuracy=val_accuracy, num_classes=spec.data.num_classes)
    result = TrialResult(
        history=callback.history,
        status=status,
        val_accuracy=val_accuracy,
        best_epoch=callback.best_epoch,
        param_count=model.count_params(),
        train_seconds=train_seconds,
        health_seconds=recorder.seconds if recorder else 0.0,
        inference_samples_per_s=_inference_speed(model, x_probe) if status == "complete" else 0.0,
        health=metrics,
        snapshots=callback.snapshots,
        architecture=architecture,
        worker=worker_name(),
        failure=callback.failure,
        model=model if keep_model and status == "complete" else None,
    )
    del callback, recorder
    if result.model is None:
        del model
        keras.backend.clear_session()
    gc.collect()
    return result
