"""run_trial: pruning, early stopping, NaN handling, best weights, determinism, memory."""

from __future__ import annotations

import gc
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from hpopt.spec import CNNArchitecture, DataShape, TrialSpec
from hpopt.training import run_trial

SHAPE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)


def _spec(**overrides) -> TrialSpec:
    arch = dict(conv_layers=1, filters=8, kernel_size=3, hidden_layers=1, hidden_units=16, hidden_shrink=1.0,
                dropout=0.0, learning_rate=3e-3, batch_size=64)
    spec = dict(epochs=3, seed=7)
    for key, value in overrides.items():
        (arch if key in CNNArchitecture.model_fields else spec)[key] = value
    return TrialSpec(architecture=CNNArchitecture(**arch), data=SHAPE, **spec)


class RecordingReporter:
    def __init__(self, prune_at: int | None = None) -> None:
        self.epochs: list[int] = []
        self.prune_at = prune_at

    def report(self, record) -> None:
        self.epochs.append(record.epoch)
        if record.epoch == self.prune_at:
            raise optuna.TrialPruned()


def test_reporter_gets_every_epoch_and_pruning_stops_training(digits):
    reporter = RecordingReporter(prune_at=2)
    result = run_trial(_spec(epochs=5), digits, reporter)
    assert result.status == "pruned"
    assert reporter.epochs == [1, 2]
    assert result.epochs_run == 2
    assert result.model is None


def test_complete_trial_keeps_best_epoch_weights(digits):
    # Validation labels shuffled: val_accuracy wanders epoch to epoch while training learns, so
    # the best epoch is not the last one (checked below), and only a real restore returns it.
    rng = np.random.default_rng(3)
    y_val = rng.permutation(digits.y_val[:60])
    data = SimpleNamespace(x_train=digits.x_train, y_train=digits.y_train, x_val=digits.x_val[:60], y_val=y_val)
    result = run_trial(_spec(epochs=5, learning_rate=1e-2, early_stopping_patience=None), data, RecordingReporter())
    assert result.status == "complete"
    assert result.best_epoch < result.epochs_run, "the spec must have its best epoch before its last"
    last = result.history[-1].val_accuracy
    assert result.val_accuracy == pytest.approx(max(r.val_accuracy for r in result.history))
    assert result.val_accuracy > last
    _, accuracy = result.model.evaluate(data.x_val.astype("float32"), y_val, verbose=0)
    assert accuracy == pytest.approx(result.val_accuracy, abs=1e-6)


def test_a_trial_at_chance_level_stops_as_no_learning(digits):
    result = run_trial(_spec(epochs=6, learning_rate=1e-9, no_learning_after=2, early_stopping_patience=None), digits)
    assert result.status == "no_learning"
    assert result.epochs_run == 2
    assert result.history[-1].final
    assert result.model is None


def test_a_learning_trial_is_not_stopped_as_no_learning(digits):
    result = run_trial(_spec(epochs=3, no_learning_after=2, min_steps_per_epoch=50), digits)
    assert result.status == "complete", [(r.accuracy, r.val_accuracy) for r in result.history]
    assert result.epochs_run == 3


def test_chance_level_is_the_majority_share():
    from hpopt.chance import ChanceLevel

    imbalanced = np.array([0] * 90 + [1] * 10)
    level = ChanceLevel(imbalanced, imbalanced)
    assert level.not_learning(0.9, 0.9)  # always answering class 0 is no learning
    assert not level.not_learning(0.97, 0.97)
    balanced = np.repeat(np.arange(10), 100)
    level = ChanceLevel(balanced, balanced)
    assert level.not_learning(0.11, 0.12)
    assert not level.not_learning(0.3, 0.12)  # validation above chance
    assert not level.not_learning(0.11, 0.5)  # training above chance


def test_the_epoch_where_early_stopping_fires_is_final_and_never_pruned(digits):
    from hpopt.optuna_reporter import OptunaReporter

    class PruneAlways:
        number = 0

        def report(self, value, step):
            self.value = value

        def should_prune(self):
            return True

    class Listener:
        def on_epoch(self, number, record):
            pass

    reporter = OptunaReporter(PruneAlways(), Listener(), prune=True, epochs=10)
    # A vanishing learning rate: no improvement after epoch 1, early stopping fires at epoch 3.
    result = run_trial(_spec(epochs=10, learning_rate=1e-12, early_stopping_patience=2), digits,
                       _PruneAfter(reporter, epoch=3))
    assert result.status == "complete"
    assert result.epochs_run == 3 and result.history[-1].final
    assert [r.final for r in result.history] == [False, False, True]


class _PruneAfter:
    """Passes epochs from ``epoch`` on to a reporter whose pruner always wants to prune."""

    def __init__(self, reporter, epoch: int) -> None:
        self.reporter, self.epoch = reporter, epoch

    def report(self, record) -> None:
        if record.epoch >= self.epoch:
            self.reporter.report(record)


def test_early_stopping_stops_when_validation_stops_improving(digits):
    # A vanishing learning rate leaves predictions unchanged: no improvement after epoch 1.
    result = run_trial(_spec(epochs=6, learning_rate=1e-12, early_stopping_patience=2), digits)
    assert result.epochs_run == 3
    assert result.best_epoch == 1


def test_nan_loss_fails_the_trial_without_raising(digits):
    # Huge inputs with a learning rate of 1.0 overflow to inf/NaN within the first batches.
    x_train = np.full(digits.x_train.shape, 1e30, dtype="float32")
    data = SimpleNamespace(x_train=x_train, y_train=digits.y_train, x_val=digits.x_val, y_val=digits.y_val)
    result = run_trial(_spec(epochs=3, optimizer="sgd", learning_rate=1.0), data)
    assert result.status == "failed"
    assert "non-finite" in result.failure
    assert result.epochs_run <= 1


def test_same_spec_and_seed_give_the_same_history(digits):
    first = run_trial(_spec(epochs=2), digits)
    second = run_trial(_spec(epochs=2), digits)
    for a, b in zip(first.history, second.history):
        assert a.val_accuracy == pytest.approx(b.val_accuracy, abs=1e-6)
        assert a.loss == pytest.approx(b.loss, rel=1e-5)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this platform")


def test_memory_does_not_grow_trial_over_trial(digits):
    """10 small trials after a warm-up: resident memory stays within a small bound."""
    for seed in range(2):
        run_trial(_spec(epochs=1, seed=seed), digits, keep_model=False)
    gc.collect()
    before = _rss_mb()
    for seed in range(10):
        run_trial(_spec(epochs=1, seed=100 + seed, conv_layers=1 + seed % 3), digits, keep_model=False)
    gc.collect()
    growth = _rss_mb() - before
    assert growth < 120, f"RSS grew by {growth:.0f} MB over 10 trials"


def test_lstm_trial_on_text_completes_with_health(shared_datasets, tmp_path):
    from hpopt.datasets import load_dataset
    from hpopt.spec import LSTMArchitecture

    source = shared_datasets / "sentiment" / "imdb_labelled.txt"
    if not source.exists():  # a fresh clone: a small stand-in with the same layout
        source = tmp_path / "sentences.txt"
        words = ["good", "great", "fine", "bad", "awful", "poor", "movie", "plot", "actors"]
        rng = np.random.default_rng(0)
        lines = []
        for i in range(200):
            label = i % 2
            picks = rng.choice(words[:3] if label else words[3:6], 3).tolist() + rng.choice(words[6:], 2).tolist()
            lines.append(" ".join(picks) + f"\t{label}")
        source.write_text("\n".join(lines))
    data = load_dataset(str(source), seed=1)
    shape = DataShape(modality="text", input_shape=tuple(data.input_shape), num_classes=data.num_classes,
                      vocab_size=data.vocab_size)
    arch = LSTMArchitecture(embedding_dim=16, lstm_units=16, bidirectional=True, hidden_units=16, dropout=0.1,
                            learning_rate=5e-3, batch_size=32)
    result = run_trial(TrialSpec(architecture=arch, data=shape, epochs=2, seed=1), data)
    assert result.status == "complete", result.failure
    assert result.epochs_run == 2
    assert "embedding" in result.health["per_layer"]["gradient_norms"]
    assert 0.0 <= result.health["overall_health"] <= 1.0


def test_reporter_sees_the_architecture_before_training(digits):
    seen = []

    class Reporter:
        def model_built(self, architecture):
            seen.append(architecture)

        def report(self, record):
            assert seen, "the architecture comes before the first epoch"

    result = run_trial(_spec(epochs=1), digits, Reporter())
    assert seen == [result.architecture]
    assert sum(layer["params"] for layer in result.architecture) == result.param_count
    conv = next(layer for layer in result.architecture if layer["name"] == "conv_1")
    assert conv["type"] == "Conv2D" and conv["output_shape"] == [None, 8, 8, 8]


def test_mixed_precision_trains_in_float16_with_a_float32_output(digits):
    import keras

    result = run_trial(_spec(epochs=1).model_copy(update={"precision": "mixed_float16"}), digits)
    assert result.status == "complete", result.failure
    assert result.model.get_layer("conv_1").compute_dtype == "float16"
    assert result.model.get_layer("output").compute_dtype == "float32"
    assert result.model.get_layer("conv_1").kernel.dtype == "float32"  # variables stay float32
    assert 0.0 <= result.health["overall_health"] <= 1.0
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_auto_precision_follows_the_devices(monkeypatch):
    import tensorflow as tf

    from hpopt.models import resolve_precision

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert resolve_precision("auto") == "float32"
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")]
                        if kind in (None, "GPU") else [])
    assert resolve_precision("auto") == "mixed_float16"
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("mixed_float16") == "mixed_float16"


class _SlowFirstEpoch:
    """Holds the first epoch's report until the trial's time limit has passed."""

    def __init__(self, until: float) -> None:
        self.until = until
        self.epochs: list[int] = []

    def report(self, record) -> None:
        self.epochs.append(record.epoch)
        if record.epoch == 1:
            time.sleep(max(0.0, self.until - time.perf_counter()))


def test_a_deadline_mid_epoch_leaves_at_once_with_the_epochs_done(digits):
    """Past spec.time_limit_s in epoch 2, the trial ends at that batch: epoch 2 is neither
    validated nor recorded (Keras would validate a stopped epoch), epoch 1 is kept."""
    started = time.perf_counter()
    first = run_trial(_spec(epochs=1), digits)  # the time one epoch takes here, build included
    limit = 1.5 * (time.perf_counter() - started) + 0.5  # epoch 1 ends before it
    reporter = _SlowFirstEpoch(until=time.perf_counter() + limit + 0.1)
    result = run_trial(_spec(epochs=4, time_limit_s=limit, early_stopping_patience=None), digits, reporter)
    assert first.status == "complete"
    assert result.status == "complete" and result.stop_reason == "deadline"
    assert reporter.epochs == [1] and result.epochs_run == 1 and result.best_epoch == 1
    assert result.inference_samples_per_s == 0.0  # not timed past the deadline (not the objective)


def test_a_deadline_in_the_first_epoch_keeps_the_partial_epoch_only_while_the_run_has_no_model(digits):
    alone = run_trial(_spec(epochs=3, time_limit_s=0.001), digits)  # the run's first trial: its only model
    assert alone.status == "complete" and alone.stop_reason == "deadline" and alone.epochs_run == 1
    later = run_trial(_spec(epochs=3, time_limit_s=0.001, partial_epoch_at_deadline=False), digits)
    assert later.status == "pruned" and later.stop_reason == "deadline" and later.epochs_run == 0
    assert later.model is None and later.health_seconds == 0.0
