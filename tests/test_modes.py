"""simple, health and pareto modes: what a trial's value is and which trial wins."""

from __future__ import annotations

import json

import pytest

from hpopt import health
from hpopt.config import load_config
from hpopt.runner import run_optimization
from hpopt.scoring import OBJECTIVES, trial_value
from hpopt.spec import EpochRecord, TrialResult


def _result(val_accuracy: float, overall_health: float, seconds: float = 10.0, params: int = 50_000) -> TrialResult:
    history = [EpochRecord(epoch=1, loss=0.5, accuracy=val_accuracy, val_loss=0.5, val_accuracy=val_accuracy,
                           seconds=seconds)]
    return TrialResult(history=history, status="complete", val_accuracy=val_accuracy, best_epoch=1,
                       param_count=params, train_seconds=seconds, inference_samples_per_s=5000.0,
                       health={"overall_health": overall_health, "neuron_utilization": overall_health,
                               "training_stability": overall_health, "parameter_efficiency": 0.5})


ACCURATE_BUT_SICK = _result(0.95, 0.30)
HEALTHY = _result(0.92, 0.90)


def test_health_mode_blends_objective_and_health_on_one_scale():
    assert trial_value("simple", "val_accuracy", 0.3, ACCURATE_BUT_SICK) == pytest.approx(0.95)
    assert trial_value("health", "val_accuracy", 0.3, ACCURATE_BUT_SICK) == pytest.approx(0.7 * 0.95 + 0.3 * 0.30)
    assert trial_value("health", "val_accuracy", 0.0, ACCURATE_BUT_SICK) == pytest.approx(0.95)
    # Seconds and megabytes are mapped to [0, 1] before they mix with health.
    for name, objective in OBJECTIVES.items():
        value = trial_value("health", name, 0.5, HEALTHY)
        assert 0.0 <= value <= 1.0, name
    assert trial_value("pareto", "val_accuracy", 0.3, HEALTHY) == (0.92, 0.90)


def test_simple_optimizes_time_and_memory_objectives_in_their_own_units():
    assert OBJECTIVES["training_time"].direction == "minimize"
    assert trial_value("simple", "training_time", 0.3, _result(0.9, 0.9, seconds=42.0)) == pytest.approx(42.0)
    # accuracy per MB (no measured bytes here: 4 bytes a parameter), maximized
    assert OBJECTIVES["memory_efficiency"].direction == "maximize"
    assert OBJECTIVES["memory_efficiency"].raw(_result(0.9, 0.9, params=1_000_000)) == pytest.approx(0.9 / 4.0)


class _ScriptedExecutor:
    """Stands in for training: trial 0 is accurate but unhealthy, trial 1 healthy but less accurate."""

    name = "local"
    results = [ACCURATE_BUT_SICK, HEALTHY]

    def run(self, spec, data, reporter):
        number = getattr(reporter, "trial").number
        return self.results[number % 2].model_copy()


@pytest.mark.parametrize("mode,winner", [("simple", 0), ("health", 1)])
def test_health_and_simple_mode_pick_different_winners_when_they_disagree(tmp_path, monkeypatch, mode, winner):
    import hpopt.trial_loop

    monkeypatch.setattr(hpopt.trial_loop, "make_executor", lambda config: _ScriptedExecutor())
    config = load_config({"results_dir": str(tmp_path), "run_name": f"disagree_{mode}", "mode": mode, "trials": "2",
                          "health_weight": "0.5", "plot_generation": "none", "save_best_model": "false",
                          "random_seed": "7"}, environ={}, env_file=None)
    summary = json.loads((run_optimization(config) / "summary.json").read_text())
    assert summary["best_trial"]["number"] == winner
    for trial in summary["trials"]:
        assert set(trial["score"]) >= {"objective_raw", "objective_score", "overall_health", "combined_score"}


def test_health_mode_run_records_every_metric_and_plot_for_every_trial(tmp_path):
    config = load_config({"results_dir": str(tmp_path), "run_name": "health", "mode": "health", "trials": "3",
                          "min_epochs_per_trial": "1", "max_epochs_per_trial": "3", "n_startup_trials": "2"},
                         environ={}, env_file=None)
    run_dir = run_optimization(config)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mode"] == "health" and summary["n_trials"] == 3
    for trial in summary["trials"]:
        for name in health.HEALTH_METRICS:
            assert 0.0 <= trial["health"][name] <= 1.0, (trial["number"], name)
        if trial["state"] == "complete":
            assert trial["value"] == pytest.approx(trial["score"]["combined_score"])
        plots = run_dir / "plots" / f"trial_{trial['number']}"
        for name in ("training_curves", "gradient_flow", "weight_distributions", "dead_neurons"):
            assert (plots / f"{name}.png").is_file(), (trial["number"], name)
    best = summary["best_trial"]["number"]
    for name in ("confusion_matrix", "activation_maps"):
        assert (run_dir / "plots" / f"trial_{best}" / f"{name}.png").is_file()
    assert (run_dir / "plots" / "health_vs_accuracy.png").is_file()
    report = (run_dir / "report.md").read_text()
    assert "health_vs_accuracy.png" in report and "gradient_flow.png" in report


def test_pareto_mode_writes_the_front_and_its_plot(tmp_path):
    config = load_config({"results_dir": str(tmp_path), "run_name": "pareto", "mode": "pareto", "trials": "3",
                          "min_epochs_per_trial": "1", "max_epochs_per_trial": "2", "plot_generation": "best"},
                         environ={}, env_file=None)
    run_dir = run_optimization(config)
    summary = json.loads((run_dir / "summary.json").read_text())
    front = summary["pareto_front"]
    assert front and all({"number", "val_accuracy", "overall_health"} <= set(p) for p in front)
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    for point in front:  # nobody on the front is dominated by another trial
        assert not any(t["val_accuracy"] > point["val_accuracy"] and
                       t["health"]["overall_health"] > point["overall_health"] for t in complete)
    assert (run_dir / "plots" / "pareto_front.png").is_file()
    # best_model.keras is the front's most accurate trial's own weights, not just any file.
    assert summary["best_trial"]["number"] == front[0]["number"]
    assert front[0]["val_accuracy"] == max(p["val_accuracy"] for p in front)
    import keras

    from hpopt.runner import load_run_data

    data = load_run_data(config)
    model = keras.saving.load_model(run_dir / "best_model.keras")
    _, accuracy = model.evaluate(data.x_val.astype("float32"), data.y_val, verbose=0)
    assert accuracy == pytest.approx(front[0]["val_accuracy"], abs=1e-6)
    assert "Pareto front" in (run_dir / "report.md").read_text()
