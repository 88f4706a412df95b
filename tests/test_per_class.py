"""Per-class test report and the macro_f1 / balanced_accuracy objectives (issue 17)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from hpopt.config import ConfigError, load_config
from hpopt.evaluation import per_class_report
from hpopt.runner import run_optimization
from hpopt.scoring import OBJECTIVES, epoch_value, trial_value
from hpopt.spec import EpochRecord, ObjectiveSpec, TrialResult
from hpopt.training import input_pipeline


def _config(tmp_path, *args: str):
    settings = {"results_dir": str(tmp_path / "results"), "min_epochs_per_trial": "1", "max_epochs_per_trial": "2",
                "warm_start": "false", "n_startup_trials": "2", "n_warmup_steps": "0", "plot_generation": "none"}
    settings.update(arg.split("=", 1) for arg in args)
    return load_config(settings, environ={}, env_file=None)


@pytest.fixture(scope="module")
def macro_f1_run(tmp_path_factory):
    """One small study scored on macro-F1: every test below reads its results folder."""
    tmp_path = tmp_path_factory.mktemp("per_class")
    config = _config(tmp_path, "run_name=f1", "trials=2", "optimize_for=macro_f1")
    run_dir = run_optimization(config)
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def test_best_trial_lists_precision_recall_f1_support_per_named_class(macro_f1_run, digits):
    run_dir, summary = macro_f1_run
    best = summary["best_trial"]
    rows = best["per_class"]
    assert [r["class"] for r in rows] == digits.class_names
    assert sum(r["support"] for r in rows) == len(digits.y_test)
    # the numbers are sklearn's on the saved model's test predictions (the test split touched once, here)
    model = keras.saving.load_model(run_dir / "best_model.keras")
    predicted = model.predict(input_pipeline(digits.x_test, digits.y_test, 256), verbose=0).argmax(axis=1)
    expected_f1 = f1_score(digits.y_test, predicted, average=None)
    assert np.allclose([r["f1"] for r in rows], expected_f1, atol=1e-6)
    assert best["macro_f1"] == pytest.approx(f1_score(digits.y_test, predicted, average="macro"), abs=1e-6)
    assert best["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(digits.y_test, predicted), abs=1e-6)


def test_summary_records_the_resolved_class_weight(macro_f1_run):
    _, summary = macro_f1_run
    resolved = summary["resolved"]["class_weight"]
    assert resolved["setting"] == "auto" and resolved["mode"] == "none" and resolved["weights"] is None  # balanced
    assert resolved["largest_class"] <= 3 * resolved["smallest_class"]
    assert summary["config"]["class_weight"] == "auto" and summary["stopped_reason"] is None


def test_report_has_the_per_class_table_worst_f1_first(macro_f1_run):
    run_dir, summary = macro_f1_run
    report = (run_dir / "report.md").read_text()
    assert "## Per-class results (test split)" in report
    table = report.split("## Per-class results (test split)")[1].split("\n\n")[2].splitlines()[2:]
    f1s = [float(line.split("|")[4]) for line in table]
    assert len(f1s) == 10 and f1s == sorted(f1s)


def test_macro_f1_objective_scores_the_validation_predictions(macro_f1_run):
    _, summary = macro_f1_run
    assert summary["optimize_for"] == "macro_f1"
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    assert complete
    for trial in complete:
        # the trial's value is the validation macro-F1 (the score breakdown's raw objective), not val_accuracy
        assert trial["score"]["objective"] == "macro_f1"
        assert trial["value"] == pytest.approx(trial["score"]["objective_raw"])
    assert any(t["value"] != pytest.approx(t["val_accuracy"], abs=1e-9) for t in complete)


def test_run_trial_computes_validation_metrics_only_for_prediction_objectives(digits):
    from hpopt.spec import CNNArchitecture, DataShape, TrialSpec
    from hpopt.training import run_trial
    from hpopt.trial_loop import data_shape

    arch = CNNArchitecture(conv_layers=1, filters=8, kernel_size=3, hidden_layers=1, hidden_units=16,
                           hidden_shrink=1.0, dropout=0.0, learning_rate=3e-3, batch_size=64)
    shape: DataShape = data_shape(digits)
    for objective, wanted in (("balanced_accuracy", {"macro_f1", "balanced_accuracy"}), ("val_accuracy", set())):
        spec = TrialSpec(architecture=arch, data=shape, epochs=1, seed=0,
                         objective=ObjectiveSpec(optimize_for=objective), health={"enabled": False})
        result = run_trial(spec, digits, keep_model=False)
        assert set(result.val_metrics) == wanted
        if wanted:
            assert 0.0 <= result.val_metrics["balanced_accuracy"] <= 1.0
            assert trial_value("simple", objective, 0.3, result) == result.val_metrics["balanced_accuracy"]


def test_health_mode_blends_macro_f1_like_accuracy_and_epochs_report_val_accuracy():
    record = EpochRecord(epoch=1, loss=1.0, accuracy=0.5, val_loss=1.0, val_accuracy=0.8, seconds=1.0)
    result = TrialResult(history=[record], status="complete", val_accuracy=0.8, best_epoch=1, param_count=10,
                         train_seconds=1.0, health={"overall_health": 0.5}, val_metrics={"macro_f1": 0.6})
    assert trial_value("health", "macro_f1", 0.3, result) == pytest.approx(0.7 * 0.6 + 0.3 * 0.5)
    assert OBJECTIVES["macro_f1"].per_epoch  # prunable: an epoch's value is its val_accuracy
    provisional = result.model_copy(update={"val_metrics": {}})
    assert epoch_value(ObjectiveSpec(optimize_for="macro_f1"), provisional) == pytest.approx(0.8)


def test_per_class_report_names_classes_and_counts_never_predicted_ones():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 1, 0, 1, 1])  # class 2 never predicted
    rows = per_class_report(labels, predicted, ["cat", "dog", "eel"])
    assert [r["class"] for r in rows] == ["cat", "dog", "eel"]
    assert rows[2] == {"class": "eel", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert rows[0]["precision"] == pytest.approx(2 / 3) and rows[0]["recall"] == 1.0


def test_dashboard_card_lists_per_class_worst_first(macro_f1_run):
    from hpopt.api.run_summary import run_summary
    from hpopt.api.schemas import RunSummaryOut
    from hpopt.jobs.store import JobRecord

    run_dir, summary = macro_f1_run
    card = run_summary(JobRecord("j1", "completed", "f1", {}, "t", "t"), summary, run_dir)
    f1s = [r["f1"] for r in card["per_class"]]
    assert len(f1s) == 10 and f1s == sorted(f1s)
    assert card["macro_f1"] == summary["best_trial"]["macro_f1"]
    served = RunSummaryOut.model_validate(card).model_dump(by_alias=True)
    assert served["per_class"][0]["class"] == card["per_class"][0]["class"]


def test_optimize_for_accepts_the_new_objectives_and_pareto_refuses_them(tmp_path):
    assert _config(tmp_path, "optimize_for=balanced_accuracy", "mode=health").optimize_for == "balanced_accuracy"
    with pytest.raises(ConfigError, match="optimize_for"):
        _config(tmp_path, "optimize_for=macro_f1", "mode=pareto")
