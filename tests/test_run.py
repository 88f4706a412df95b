"""A whole run in-process: results folder contract, best model, resume, pruning, failures."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime

import keras
import pytest

from hpopt.config import load_config
from hpopt.runner import NoCompleteTrialsError, run_optimization
from hpopt.spec import TrialResult
from hpopt.study import StudyMismatchError, open_study

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
GOOD_CNN = dict(hidden_layers=1, conv_layers=2, filters=32, kernel_size=3, activation="relu",
                kernel_initializer="he_normal", batch_norm=False, pooling="flatten", hidden_units=128,
                dropout=0.0, optimizer="adam", learning_rate=3e-3, batch_size=32)


def _config(tmp_path, *args: str):
    settings = {"results_dir": str(tmp_path / "results"), "min_epochs_per_trial": "1", "max_epochs_per_trial": "2",
                "warm_start": "false",
                "n_startup_trials": "2", "n_warmup_steps": "0"}
    settings.update(arg.split("=", 1) for arg in args)
    return load_config(settings, environ={}, env_file=None)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("run")
    config = _config(tmp_path, "run_name=e2e", "trials=4", "plot_generation=best")
    return config, run_optimization(config)


def test_results_folder_has_every_contract_file(digits_run):
    _, run_dir = digits_run
    for name in ("summary.json", "trials.csv", "best_model.keras", "best_hyperparameters.yaml", "report.md",
                 "plots/optimization_history.png", "plots/intermediate_values.png"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "trial_models").exists()


def test_summary_lists_every_trial_with_contract_fields(digits_run):
    config, run_dir = digits_run
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("run_name", "dataset", "mode", "optimize_for", "config", "n_trials", "n_complete", "n_pruned",
                "n_failed", "wall_s", "best_trial", "trials", "test_accuracy"):
        assert key in summary, key
    assert summary["run_name"] == "e2e" and summary["dataset"] == "digits"
    assert summary["n_trials"] == 4 == len(summary["trials"])
    assert summary["n_complete"] + summary["n_pruned"] + summary["n_no_learning"] + summary["n_failed"] == 4
    for trial in summary["trials"]:
        for key in ("number", "state", "value", "val_accuracy", "params", "health", "epochs_run", "started_at",
                    "finished_at", "duration_s", "execution", "worker"):
            assert key in trial, key
        assert ISO_UTC.match(trial["started_at"]) and ISO_UTC.match(trial["finished_at"])
        assert trial["execution"] == "local"
        assert 1 <= trial["epochs_run"] <= 2
    best = summary["best_trial"]
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    assert best["value"] == max(t["value"] for t in complete)
    assert 0.0 <= summary["test_accuracy"] <= 1.0


def test_best_model_is_the_best_trials_own_trained_model(digits_run, digits):
    _, run_dir = digits_run
    summary = json.loads((run_dir / "summary.json").read_text())
    model = keras.saving.load_model(run_dir / "best_model.keras")
    _, accuracy = model.evaluate(digits.x_val.astype("float32"), digits.y_val, verbose=0)
    assert accuracy == pytest.approx(summary["best_trial"]["val_accuracy"], abs=1e-6)


def test_trials_csv_has_one_row_per_trial(digits_run):
    _, run_dir = digits_run
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3]
    summary = json.loads((run_dir / "summary.json").read_text())
    for row, trial in zip(rows, summary["trials"]):
        for name, value in trial["params"].items():  # one column per sampled parameter
            assert row[name] == str(value), name


def test_rerun_with_same_run_name_resumes_the_study(tmp_path):
    config = _config(tmp_path, "run_name=resume", "trials=2", "plot_generation=none")
    run_dir = run_optimization(config)
    first = json.loads((run_dir / "summary.json").read_text())
    more = _config(tmp_path, "run_name=resume", "trials=3", "plot_generation=none")
    run_optimization(more)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [t["number"] for t in summary["trials"]] == [0, 1, 2]
    assert summary["trials"][:2] == first["trials"]
    # Same cap again: nothing left to run.
    run_optimization(more)
    assert json.loads((run_dir / "summary.json").read_text())["n_trials"] == 3


def test_resuming_with_other_settings_is_refused(tmp_path):
    run_optimization(_config(tmp_path, "run_name=fixed", "trials=1", "plot_generation=none"))
    with pytest.raises(StudyMismatchError, match="mode"):
        run_optimization(_config(tmp_path, "run_name=fixed", "trials=2", "mode=health", "plot_generation=none"))


def test_median_pruner_prunes_a_bad_trial_early(tmp_path):
    config = _config(tmp_path, "run_name=prune", "trials=4", "max_epochs_per_trial=4", "min_epochs_per_trial=4",
                     "n_startup_trials=2", "n_warmup_steps=0", "plot_generation=none", "enable_early_stopping=false")
    study = open_study(config, "prune")
    for _ in range(3):
        study.enqueue_trial({**GOOD_CNN, "epochs": 4})
    study.enqueue_trial({**GOOD_CNN, "optimizer": "sgd", "sgd_learning_rate": 1e-3, "batch_size": 128,
                         "dropout": 0.5, "epochs": 4})
    run_dir = run_optimization(config)
    trials = json.loads((run_dir / "summary.json").read_text())["trials"]
    assert trials[3]["state"] == "pruned"
    longest_complete = max(t["epochs_run"] for t in trials if t["state"] == "complete")
    assert trials[3]["epochs_run"] < longest_complete


def test_a_timeout_too_short_for_any_trial_says_so(tmp_path):
    config = _config(tmp_path, "run_name=timeout", "trials=20", "timeout_hours=0.000001", "plot_generation=none")
    with pytest.raises(NoCompleteTrialsError, match="timeout_hours=1e-06 .* left no time for a trial"):
        run_optimization(config)
    summary = json.loads((tmp_path / "results" / "timeout" / "summary.json").read_text())
    assert summary["n_trials"] == 0 and summary["wall_time"]["timeout_s"] == pytest.approx(0.0036)


class _FailingExecutor:
    name = "local"

    def run(self, spec, data, reporter):
        return TrialResult(history=[], status="failed", val_accuracy=0.0, best_epoch=0, param_count=0,
                           train_seconds=0.0, failure="non-finite loss (nan) at epoch 1, batch 1")


def test_failed_trials_never_end_the_study(tmp_path, monkeypatch):
    import hpopt.trial_loop

    monkeypatch.setattr(hpopt.trial_loop, "make_executor", lambda config: _FailingExecutor())
    config = _config(tmp_path, "run_name=failing", "trials=3", "plot_generation=none")
    with pytest.raises(NoCompleteTrialsError, match="non-finite loss"):
        run_optimization(config)
    summary = json.loads((tmp_path / "results" / "failing" / "summary.json").read_text())
    assert summary["n_failed"] == 3
    assert all(t["failure"] for t in summary["trials"])


def test_default_run_name_is_timestamp_dataset_mode(tmp_path):
    config = _config(tmp_path, "trials=1")
    name = config.resolved_run_name()
    assert re.match(r"^\d{8}_\d{6}_digits_simple$", name)
    datetime.strptime(name[:15], "%Y%m%d_%H%M%S")
