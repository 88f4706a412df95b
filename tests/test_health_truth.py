"""Health tells the truth about the model run_trial returns (issue 11).

A model that learned nothing is not healthy; every trial is scored on every metric; the
weight metrics describe the kept (best-epoch) weights, however the trial ended.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from hpopt import health
from hpopt.health_recorder import HealthRecorder
from hpopt.spec import CNNArchitecture, DataShape, HealthOptions, TrialSpec
from hpopt.training import run_trial

SHAPE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)
SOUND = dict(conv_layers=2, filters=16, kernel_size=3, activation="relu", kernel_initializer="he_normal",
             batch_norm=False, pooling="flatten", hidden_layers=2, hidden_units=64, hidden_shrink=1.0, dropout=0.1,
             optimizer="adam", learning_rate=2e-3, batch_size=32)


def _spec(epochs: int, patience=None, frequency: int = 1, **overrides) -> TrialSpec:
    return TrialSpec(architecture=CNNArchitecture(**{**SOUND, **overrides}), data=SHAPE, epochs=epochs, seed=3,
                     early_stopping_patience=patience, health=HealthOptions(frequency=frequency))


def _assert_every_metric(result):
    for name in health.HEALTH_METRICS:
        value = result.health[name]
        assert type(value) is float and 0.0 <= value <= 1.0, name


def _shuffled_labels(data):
    rng = np.random.default_rng(0)
    return types.SimpleNamespace(x_train=data.x_train, y_train=rng.permutation(data.y_train),
                                 x_val=data.x_val, y_val=rng.permutation(data.y_val))


@pytest.mark.parametrize("case", ["shuffled_labels", "tiny_learning_rate"])
def test_chance_level_model_is_not_healthy(digits, case):
    # Before issue 11 these scored 0.84 and 0.65: flat loss "stable", no gap "general",
    # consistency 1 below 3 epochs, and healthy gradients/units in a model that learned nothing.
    if case == "shuffled_labels":
        result = run_trial(_spec(2), _shuffled_labels(digits), keep_model=False)
    else:
        result = run_trial(_spec(2, learning_rate=1e-6), digits, keep_model=False)
    assert result.status in ("complete", "no_learning")
    assert result.val_accuracy < 1.6 / SHAPE.num_classes  # the premise: it is at chance
    _assert_every_metric(result)
    assert result.health["learning"] <= 0.5
    assert result.health["overall_health"] <= 0.5


def test_early_stopped_trial_between_health_epochs_has_every_metric(digits):
    # Health epochs every 100 (and the planned last, 10): patience 1 stops this spec long
    # before either, so the per-epoch rule alone leaves it no snapshot at all.
    spec = _spec(10, patience=1, frequency=100)
    result = run_trial(spec, digits, keep_model=False)
    assert result.status == "complete" and len(result.history) < spec.epochs
    _assert_every_metric(result)
    assert result.health["unmeasured"].keys() <= {"accuracy_consistency"}
    assert "neuron_utilization" not in result.health["unmeasured"]
    assert "gradient_health" not in result.health["unmeasured"]
    assert result.health["overall_health"] > 0.6  # it learned (val accuracy > 0.9)
    assert [s["epoch"] for s in result.snapshots] == [result.best_epoch]
    assert result.health["per_layer"]["snapshot_epochs"] == [result.best_epoch]


def _norms(snapshot):
    return {layer["name"]: layer["gradients"]["norm"] for layer in snapshot["layers"] if "gradients" in layer}


def test_weight_metrics_describe_the_kept_best_epoch_weights(digits):
    result = run_trial(_spec(10, patience=1), digits)
    last_epoch = result.history[-1].epoch
    assert result.status == "complete" and result.best_epoch < last_epoch  # stopped after a worse epoch
    _assert_every_metric(result)
    final = result.snapshots[-1]
    assert final["epoch"] == result.best_epoch and final.get("kept") is True
    assert [s["epoch"] for s in result.snapshots[:-1]] == list(range(1, last_epoch + 1))

    # an independent snapshot of the returned model (which holds the kept weights)
    probe = min(256, len(digits.x_val))
    fresh = HealthRecorder(result.model, digits.x_val[:probe], digits.y_val[:probe]).snapshot(result.best_epoch)
    assert _norms(final) == pytest.approx(_norms(fresh), rel=1e-4)
    assert result.health["neuron_utilization"] == pytest.approx(health.neuron_utilization(fresh)[0])
    last = next(s for s in result.snapshots if s["epoch"] == last_epoch)
    assert _norms(last) != pytest.approx(_norms(fresh), rel=1e-4)  # the last epoch's weights are not the kept ones
    # gradient_health's last term is the kept snapshot: recomputing from the snapshots agrees
    assert result.health["gradient_health"] == pytest.approx(health.gradient_health(result.snapshots))
