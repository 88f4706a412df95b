"""Health metrics measured on real Keras models: they measure what they say."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from hpopt import health
from hpopt.health_recorder import HealthRecorder
from hpopt.models import build_model
from hpopt.spec import CNNArchitecture, DataShape, TrialSpec
from hpopt.training import run_trial

SHAPE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)
SOUND = dict(conv_layers=2, filters=16, kernel_size=3, activation="relu", kernel_initializer="he_normal",
             batch_norm=False, pooling="flatten", hidden_layers=2, hidden_units=64, hidden_shrink=1.0, dropout=0.1,
             optimizer="adam", learning_rate=2e-3, batch_size=32)


def _spec(epochs: int = 5, early_stopping_patience=None, **overrides) -> TrialSpec:
    return TrialSpec(architecture=CNNArchitecture(**{**SOUND, **overrides}), data=SHAPE, epochs=epochs, seed=3,
                     early_stopping_patience=early_stopping_patience)


def test_layer_forced_dead_scores_zero_for_that_layer(digits):
    model = build_model(_spec())
    dense = model.get_layer("dense_1")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, np.full_like(bias, -1e3)])  # large negative bias before ReLU: every unit dead
    snapshot = HealthRecorder(model, digits.x_val[:128], digits.y_val[:128]).snapshot(epoch=1)
    overall, per_layer = health.neuron_utilization(snapshot)
    assert per_layer["dense_1"] == 0.0
    assert per_layer["conv_1"] > 0.5 and per_layer["dense_2"] < 1.0  # dense_2 only sees zeros: dead too
    assert overall < 0.75


def test_sound_model_on_digits_scores_high(digits):
    result = run_trial(_spec(epochs=5), digits)
    assert result.status == "complete" and result.val_accuracy > 0.85
    metrics = result.health
    for name in health.HEALTH_METRICS:
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["gradient_health"] > 0.8
    assert metrics["training_stability"] > 0.8
    assert metrics["convergence_quality"] > 0.8
    assert metrics["overall_health"] > 0.75


def test_diverging_learning_rate_scores_low_on_stability_and_gradient_health(digits):
    result = run_trial(_spec(epochs=4, optimizer="adam", learning_rate=1.0, early_stopping_patience=None), digits)
    metrics = result.health
    assert metrics["training_stability"] < 0.3
    assert metrics["gradient_health"] < 0.3
    sound = run_trial(_spec(epochs=4), digits).health
    assert metrics["overall_health"] < sound["overall_health"] - 0.3


def test_live_epoch_records_carry_health(digits):
    records = []

    class Collect:
        def report(self, record):
            records.append(record)

    result = run_trial(_spec(epochs=2), digits, Collect())
    assert [r.epoch for r in records] == [1, 2]
    for record in records:
        assert 0.0 <= record.health["neuron_utilization"] <= 1.0
        assert set(record.health["gradient_norm"]) >= {"conv_1", "dense_1", "output"}
    # The best epoch's live view saw the weights run_trial returns: recompute its dead shares
    # from the returned model with Keras and the documented rule, without the recorder.
    live = next(r for r in records if r.epoch == result.best_epoch).health["dead_fraction"]
    model = result.model
    probe = digits.x_val[:256].astype("float32")
    expected = {}
    for block in ("conv_1", "conv_2", "dense_1", "dense_2"):
        out = np.asarray(keras.Model(model.input, model.get_layer(f"{block}_act").output)(probe, training=False))
        out = out.reshape(-1, out.shape[-1]).astype(np.float64)
        std, mean = out.std(axis=0), out.mean(axis=0)
        floor = 1e-6 * np.maximum(1.0, np.abs(mean))
        reference = np.median(std[std >= floor]) if (std >= floor).any() else 0.0
        expected[block] = float(np.mean(std < np.maximum(floor, 0.01 * reference)))
    assert live == pytest.approx(expected)
