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
from hpopt.chance import ChanceLevel
from hpopt.health_recorder import HealthRecorder
from hpopt.identity import worker_name
from hpopt.models import build_model, describe_model
from hpopt.scoring import PREDICTION_OBJECTIVES, epoch_value, needs_epoch_health
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
    (name, type, output_shape, params) before training starts; ``training_started()``, called
    when the first epoch begins; and ``epoch_model(record, model)``, called after each epoch with
    the model as it is then, so the run's best model can be kept the moment an epoch beats it.
    """

    def report(self, record: EpochRecord) -> None: ...


def steps_per_epoch(spec: TrialSpec, samples: int) -> int:
    """One pass over the data, or spec.min_steps_per_epoch optimizer steps if that is more.

    Counting steps, not only passes, is what lets 1,000 images train as well as 60,000:
    a pass over small data is a handful of updates.
    """
    return max(math.ceil(samples / spec.architecture.batch_size), spec.min_steps_per_epoch)


def input_pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: Optional[int] = None,
                   repeat: bool = False) -> tf.data.Dataset:
    """uint8 stays uint8 in memory and is cast per batch; the model rescales. ``repeat``
    loops over the data (reshuffled each pass) for epochs longer than one pass."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size)
    if x.dtype == np.uint8:
        dataset = dataset.map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class _DeadlineReached(Exception):
    """The run's deadline passed mid-epoch: leave fit at once. Keras would otherwise validate the
    partial epoch, seconds the run no longer has. Before the trial's first epoch ends that partial
    epoch is validated only when the run has no model yet (spec.partial_epoch_at_deadline)."""


class _TrialCallback(keras.callbacks.Callback):
    """Per-epoch bookkeeping: records, best weights, early stopping, NaN guard, health."""

    def __init__(self, spec: TrialSpec, reporter: Optional[EpochReporter], recorder: Optional[HealthRecorder],
                 chance: ChanceLevel, started: float) -> None:
        super().__init__()
        self.spec = spec
        self.reporter = reporter
        self.recorder = recorder
        self.chance = chance
        self.no_learning = False
        self.param_count = 0
        self.model_bytes = 0
        self.history: list[EpochRecord] = []
        self.snapshots: list[dict[str, Any]] = []
        self.best_val_accuracy = -math.inf
        self.best_epoch = 0
        self.best_weights: Optional[list[np.ndarray]] = None
        self.failure: Optional[str] = None
        self.time_up = False  # spec.time_limit_s passed: the run's deadline, not a failure
        self._epoch_started = 0.0
        self._started = started  # run_trial's start: spec.time_limit_s counts from there (model build included)

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        if self.reporter is not None and hasattr(self.reporter, "training_started"):
            self.reporter.training_started()

    def _check_time_limit(self) -> bool:
        limit = self.spec.time_limit_s
        if limit is not None and not self.time_up and time.perf_counter() - self._started >= limit:
            logger.info("the run's deadline: stopping the trial (%d epochs done, best %d)", len(self.history),
                        self.best_epoch)
            self.time_up = True
            self.model.stop_training = True
        return self.time_up

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        interrupts.check()  # Ctrl-C / API stop: end the trial here, at a safe point
        if self._check_time_limit() and (self.history or not self.spec.partial_epoch_at_deadline):
            raise _DeadlineReached()
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
        # past the deadline the kept weights' snapshot, taken after fit, is the only one needed
        due = number % self.spec.health.frequency == 0 or number == self.spec.epochs
        if self.recorder is not None and due and not self.time_up:
            snapshot = self.recorder.snapshot(number)
            self.snapshots.append(snapshot)
            record.health = _live_health_summary(snapshot)
        self.history.append(record)
        if record.val_accuracy > self.best_val_accuracy:
            self.best_val_accuracy = record.val_accuracy
            self.best_epoch = number
            self.best_weights = self.model.get_weights()
        record.value = self._epoch_value(record)
        self._check_time_limit()  # a deadline that passed during validation ends the trial here too
        record.final = self.time_up or self._stops_after(record) or number >= self.spec.epochs
        if record.final:
            self.model.stop_training = True
        if self.reporter is not None:
            if hasattr(self.reporter, "epoch_model"):
                self.reporter.epoch_model(record, self.model)
            self.reporter.report(record)  # may raise optuna.TrialPruned (never on a final epoch)

    def _stops_after(self, record: EpochRecord) -> bool:
        """Early stopping, or no learning: still at chance level after the warm-up epochs."""
        after = self.spec.no_learning_after
        if after is not None and record.epoch >= after and self.chance.not_learning(
                self.best_val_accuracy, record.accuracy):
            logger.info("no learning: epoch %d, best val_accuracy %.3f, accuracy %.3f at chance level",
                        record.epoch, self.best_val_accuracy, record.accuracy)
            self.no_learning = True
            return True
        patience = self.spec.early_stopping_patience
        if patience is not None and record.epoch - self.best_epoch >= patience:
            logger.debug("early stopping at epoch %d (best %d)", record.epoch, self.best_epoch)
            return True
        return False

    def _epoch_value(self, record: EpochRecord) -> Optional[float]:
        """The objective as if the trial ended with this epoch's weights (see objectives.epoch_value)."""
        objective = self.spec.objective
        history = [r.model_dump(exclude={"health"}) for r in self.history]
        metrics: dict[str, Any] = {}
        if needs_epoch_health(objective):
            metrics = health.compute_health(history, self.snapshots, param_count=self.param_count,
                                            accuracy=record.val_accuracy, num_classes=self.spec.data.num_classes,
                                            best_epoch=record.epoch)
        provisional = TrialResult(
            history=list(self.history), status="complete", val_accuracy=record.val_accuracy,
            best_epoch=record.epoch, param_count=self.param_count, model_bytes=self.model_bytes,
            train_seconds=sum(r.seconds for r in self.history), health=metrics)
        return epoch_value(objective, provisional)


def _live_health_summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Small per-epoch health view for live monitoring (dead share and gradient norm per layer)."""
    utilization, per_layer = health.neuron_utilization(snapshot)
    return {
        "neuron_utilization": utilization,
        "dead_fraction": {name: 1.0 - alive for name, alive in per_layer.items()},
        "gradient_norm": {layer["name"]: layer["gradients"]["norm"] for layer in snapshot["layers"]
                          if "gradients" in layer},
    }


def _measures_speed(spec: TrialSpec, status: str, callback: _TrialCallback) -> bool:
    """Inference speed is timed for complete trials; past the run's deadline only when it is the objective."""
    return status == "complete" and (not callback.time_up or spec.objective.optimize_for == "inference_speed")


def _weight_bytes(model: keras.Model) -> int:
    """Bytes of the weight arrays as stored (dtype-aware: measured, not 4 x parameters)."""
    return sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)


def _inference_speed(model: keras.Model, x_probe: np.ndarray, passes: int = 5) -> float:
    """Samples per second of a forward pass on the probe batch: the median of ``passes``
    timed passes after an untimed warm-up (tracing), so one slow call (a GC pause, another
    process) does not decide the inference_speed objective."""
    batch = tf.convert_to_tensor(x_probe.astype("float32") if x_probe.dtype == np.uint8 else x_probe)
    model(batch, training=False)
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        model(batch, training=False)
        times.append(time.perf_counter() - started)
    return len(x_probe) / max(float(np.median(times)), 1e-9)


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
    entered = time.perf_counter()
    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    steps = steps_per_epoch(spec, len(data.x_train))
    model = build_model(spec, steps_per_epoch=steps)
    architecture = describe_model(model)
    if reporter is not None and hasattr(reporter, "model_built"):
        reporter.model_built(architecture)  # live views show the layers before the first epoch ends
    probe_size = min(spec.health.sample_size, len(data.x_val))
    x_probe, y_probe = data.x_val[:probe_size], data.y_val[:probe_size]
    recorder = HealthRecorder(model, x_probe, y_probe) if spec.health.enabled else None
    callback = _TrialCallback(spec, reporter, recorder, ChanceLevel(data.y_train, data.y_val), entered)
    callback.param_count, callback.model_bytes = model.count_params(), _weight_bytes(model)
    batch_size = spec.architecture.batch_size
    repeat = steps * batch_size > len(data.x_train)
    train = input_pipeline(data.x_train, data.y_train, batch_size, shuffle_seed=spec.seed, repeat=repeat)
    val = input_pipeline(data.x_val, data.y_val, batch_size)

    status = "complete"
    started = time.perf_counter()
    try:
        model.fit(train, validation_data=val, epochs=spec.epochs, verbose=0, shuffle=False,
                  steps_per_epoch=steps if repeat else None, callbacks=[callback], class_weight=spec.class_weight)
    except optuna.TrialPruned:
        status = "pruned"
    except _DeadlineReached:
        if not callback.history:
            status = "pruned"  # cut before its first epoch ended: nothing to keep
    train_seconds = time.perf_counter() - started
    if callback.failure:
        status = "failed"
    elif callback.no_learning:
        status = "no_learning"
    elif not callback.history and status == "complete":
        status, callback.failure = "failed", "no epoch completed"
    if callback.best_weights is not None:
        model.set_weights(callback.best_weights)
        if recorder is not None:
            # Health judges the weights returned, whenever training stopped: one snapshot of
            # them, last in the list. A per-epoch snapshot of the best epoch taken last saw
            # the same weights, so it gives way to this one.
            if callback.snapshots and callback.snapshots[-1].get("epoch") == callback.best_epoch:
                callback.snapshots.pop()
            kept = recorder.snapshot(callback.best_epoch)
            kept["kept"] = True
            callback.snapshots.append(kept)

    history = [r.model_dump(exclude={"health"}) for r in callback.history]
    val_accuracy = callback.best_val_accuracy if math.isfinite(callback.best_val_accuracy) else 0.0
    metrics = health.compute_health(history, callback.snapshots, param_count=model.count_params(),
                                    accuracy=val_accuracy, num_classes=spec.data.num_classes,
                                    best_epoch=callback.best_epoch)
    result = TrialResult(
        val_metrics=validation_metrics(model, data, batch_size) if (
            status == "complete" and spec.objective.optimize_for in PREDICTION_OBJECTIVES) else {},
        history=callback.history,
        status=status,
        val_accuracy=val_accuracy,
        best_epoch=callback.best_epoch,
        param_count=model.count_params(),
        model_bytes=callback.model_bytes,
        train_seconds=train_seconds,
        health_seconds=recorder.seconds if recorder else 0.0,
        inference_samples_per_s=_inference_speed(model, x_probe) if _measures_speed(spec, status, callback) else 0.0,
        health=metrics,
        snapshots=callback.snapshots,
        architecture=architecture,
        worker=worker_name(),
        failure=callback.failure,
        stop_reason="deadline" if callback.time_up and status in ("complete", "pruned") else None,
        model=model if keep_model and status == "complete" else None,
    )
    time_up = callback.time_up
    del callback, recorder, model
    _release_memory(keep_session=result.model is not None, collect=not time_up)
    return result


def validation_metrics(model: keras.Model, data: TrainingData, batch_size: int) -> dict[str, float]:
    """macro-F1 and balanced accuracy of the model's predictions on the validation split: the
    objectives that count every class alike (one pass over the validation data)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    probabilities = model.predict(input_pipeline(data.x_val, data.y_val, max(batch_size, 256)), verbose=0)
    predicted = np.asarray(probabilities).argmax(axis=1)
    labels = np.asarray(data.y_val)
    return {"macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(labels, predicted))}


def _release_memory(*, keep_session: bool, collect: bool) -> None:
    """Free the trial's graphs before the next trial. Past the run's deadline there is no next
    trial, and a full collection can take seconds in a long-lived process (3.3 s measured), so
    ``collect`` is then False."""
    if not keep_session:
        keras.backend.clear_session()
    if collect:
        gc.collect()
