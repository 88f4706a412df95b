"""Trials that learn nothing are stopped and labelled; every epoch's value is the objective's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpopt.config import load_config
from hpopt.runner import NoCompleteTrialsError, run_optimization
from hpopt.scoring import trial_value
from hpopt.spec import CNNArchitecture, DataShape, ObjectiveSpec, TrialSpec
from hpopt.training import run_trial

SHAPE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)


def _spec(objective: ObjectiveSpec, learning_rate: float) -> TrialSpec:
    arch = CNNArchitecture(conv_layers=1, filters=8, kernel_size=3, hidden_layers=1, hidden_units=16,
                           hidden_shrink=1.0, dropout=0.0, learning_rate=learning_rate, batch_size=64)
    return TrialSpec(architecture=arch, data=SHAPE, epochs=2, seed=1, objective=objective, min_steps_per_epoch=20)


def test_each_epoch_value_is_the_objective_not_raw_accuracy(digits):
    # health mode with all weight on health: a model at chance level has overall_health 0 at
    # every epoch, whatever its (chance) val_accuracy; simple mode reports val_accuracy itself.
    at_chance = run_trial(_spec(ObjectiveSpec(mode="health", health_weight=1.0), 1e-9), digits)
    assert all(r.val_accuracy > 0.05 for r in at_chance.history)
    assert [r.value for r in at_chance.history] == [0.0, 0.0]
    learning = run_trial(_spec(ObjectiveSpec(mode="simple"), 3e-3), digits)
    assert [r.value for r in learning.history] == [r.val_accuracy for r in learning.history]


def test_health_mode_epoch_values_sit_on_the_final_scale(digits):
    result = run_trial(_spec(ObjectiveSpec(mode="health", health_weight=0.5), 3e-3), digits)
    final = trial_value("health", "val_accuracy", 0.5, result)
    last = result.history[-1]
    assert last.value != pytest.approx(last.val_accuracy, abs=1e-3)  # a blend, not raw accuracy
    if result.best_epoch == result.epochs_run:  # same weights: the same formula gives about the same score
        assert last.value == pytest.approx(final, abs=0.1)


def test_objectives_without_per_epoch_values_report_none(digits):
    result = run_trial(_spec(ObjectiveSpec(mode="simple", optimize_for="training_time"), 3e-3), digits)
    assert all(r.value is None for r in result.history)


def test_a_run_on_unlearnable_data_labels_its_trials_no_learning(tmp_path):
    # Blank images: nothing to learn, every model stays at the majority share.
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "blank.npz", x_train=np.zeros((400, 8, 8), dtype=np.uint8),
             y_train=rng.permutation(np.arange(400) % 10))
    config = load_config({"dataset": str(tmp_path / "blank.npz"), "results_dir": str(tmp_path / "results"),
                          "run_name": "blank", "trials": "2", "min_epochs_per_trial": "3", "max_epochs_per_trial": "3",
                          "n_warmup_steps": "1", "min_steps_per_epoch": "10", "plot_generation": "none"},
                         environ={}, env_file=None)
    with pytest.raises(NoCompleteTrialsError):
        run_optimization(config)
    summary = json.loads((tmp_path / "results" / "blank" / "summary.json").read_text())
    assert summary["n_no_learning"] == 2
    assert [t["state"] for t in summary["trials"]] == ["no_learning", "no_learning"]
    assert all(t["epochs_run"] == 1 for t in summary["trials"])
