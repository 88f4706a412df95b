"""tracking=tensorboard,mlflow: every finished trial also in TensorBoard event files and an MLflow run.

One small study (digits, 2 trials, 2 epochs) with both backends; the tests read its output back with
the libraries' own readers (EventAccumulator, MlflowClient) and compare it with summary.json.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hpopt.api.optimize_request import RequestError, config_from_body
from hpopt.config import ConfigError, load_config
from hpopt.tracking import Tracking, make_tracking
from hpopt.tracking.mlflow_backend import default_tracking_uri

EPOCHS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from hpopt.runner import run_optimization

    results = tmp_path_factory.mktemp("tracking")
    config = load_config({"trials": "2", "max_epochs_per_trial": str(EPOCHS), "min_epochs_per_trial": str(EPOCHS),
                          "plot_generation": "none", "min_steps_per_epoch": "5", "results_dir": str(results),
                          "run_name": "tracked", "tracking": "tensorboard,mlflow", "enable_early_stopping": "false"},
                         environ={}, env_file=None)
    run_dir = run_optimization(config)
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_tensorboard_has_one_scalar_per_epoch_per_trial(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, summary = run
    for trial in summary["trials"]:
        events = EventAccumulator(str(run_dir / "tensorboard" / f"trial_{trial['number']}"))
        events.Reload()
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            scalars = events.Scalars(metric)
            assert [s.step for s in scalars] == list(range(1, trial["epochs_run"] + 1)), metric
            assert [s.value for s in scalars] == pytest.approx([h[metric] for h in trial["history"]], rel=1e-6)
        assert events.Scalars("final/val_accuracy")[0].value == pytest.approx(trial["val_accuracy"], rel=1e-6)


def test_tensorboard_hparams_hold_the_trial_params(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir, summary = run
    trial = summary["trials"][1]
    events = EventAccumulator(str(run_dir / "tensorboard" / "trial_1"))
    events.Reload()
    content = next(iter(events.PluginTagToContent("hparams").values()))
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    hparams = {key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
               for key, value in data.session_start_info.hparams.items()}
    assert set(hparams) == set(trial["params"])
    assert hparams["optimizer"] == trial["params"]["optimizer"]


def test_mlflow_has_one_run_per_trial_with_summary_values(run):
    import mlflow

    run_dir, summary = run
    uri = default_tracking_uri(str(run_dir.parent))
    assert (run_dir.parent / "mlflow.db").is_file()
    mlflow.set_tracking_uri(uri)
    try:
        runs = mlflow.search_runs(experiment_names=[summary["study_name"]], output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    by_number = {int(r.data.tags["hpopt.trial_number"]): r for r in runs}
    assert sorted(by_number) == [t["number"] for t in summary["trials"]]
    client = _client(uri)
    for trial in summary["trials"]:
        found = by_number[trial["number"]]
        assert found.data.metrics["val_accuracy"] == pytest.approx(trial["val_accuracy"], rel=1e-9)
        assert found.data.params == {k: str(v) for k, v in trial["params"].items()}
        assert found.info.status == "FINISHED"
        assert any(key.startswith("health_") for key in found.data.metrics)
        history = client.get_metric_history(found.info.run_id, "epoch_val_accuracy")
        assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))
    best = by_number[summary["best_trial"]["number"]]
    assert best.data.tags.get("hpopt.best") == "true"
    assert [a.path for a in client.list_artifacts(best.info.run_id)] == ["best_model.keras"]
    assert (run_dir.parent / "mlartifacts").is_dir()  # beside the store, not ./mlruns in the cwd


def test_mlflow_tracking_uri_chooses_the_store(tmp_path):
    uri = f"sqlite:///{(tmp_path / 'custom.db').as_posix()}"
    config = load_config({"tracking": "mlflow", "mlflow_tracking_uri": uri, "results_dir": str(tmp_path / "r")},
                         environ={}, env_file=None)
    tracking = make_tracking(config, tmp_path / "r" / "run", "study-x")
    tracking.log_row({"number": 0, "state": "complete", "value": 0.5, "val_accuracy": 0.5, "params": {"a": 1},
                      "epochs_run": 1, "history": [{"epoch": 1, "loss": 1.0, "accuracy": 0.4, "val_loss": 1.1,
                                                    "val_accuracy": 0.5}]})
    experiment = _client(uri).get_experiment_by_name("study-x")
    assert len(_client(uri).search_runs([experiment.experiment_id])) == 1
    assert not (tmp_path / "r" / "mlflow.db").exists()


def test_a_failing_backend_is_a_warning_not_a_failed_run(tmp_path, caplog):
    class Broken:
        name = "broken"

        def log_trial(self, row):
            raise OSError("disk full")

        def log_run_end(self, summary, run_dir):
            raise OSError("disk full")

    with caplog.at_level(logging.WARNING, logger="hpopt.tracking"):
        Tracking([Broken()]).log_row({"number": 3})
        Tracking([Broken()]).log_run_end({}, tmp_path)
    assert "tracking=broken: trial 3 not logged (OSError: disk full)" in caplog.text
    assert "the run's end not logged" in caplog.text
    (tmp_path / "a_file").write_text("")  # no store can be created below a file
    config = load_config({"tracking": "mlflow", "mlflow_tracking_uri": f"sqlite:///{tmp_path}/a_file/mlflow.db"},
                         environ={}, env_file=None)
    with caplog.at_level(logging.WARNING, logger="hpopt.tracking"):
        assert make_tracking(config, tmp_path, "s") is None
    assert "tracking=mlflow is off for this run" in caplog.text


def test_tracking_key_values():
    assert load_config({"tracking": "MLflow, tensorboard"}, environ={}, env_file=None).tracking == "tensorboard,mlflow"
    with pytest.raises(ConfigError, match="did you mean 'tensorboard'"):
        load_config({"tracking": "tensorbord"}, environ={}, env_file=None)
    with pytest.raises(ConfigError, match="none cannot be combined"):
        load_config({"tracking": "none,mlflow"}, environ={}, env_file=None)
    assert make_tracking(load_config({}, environ={}, env_file=None), Path("."), "s") is None


def test_mlflow_tracking_uri_is_the_operators_and_masked(tmp_path):
    with pytest.raises(RequestError, match="operator setting") as error:
        config_from_body({"tracking": "mlflow", "mlflow_tracking_uri": "http://evil.example"}, tmp_path, env_file=None)
    assert error.value.key == "mlflow_tracking_uri"
    config = load_config({"mlflow_tracking_uri": "https://alice:s3cret@mlflow.example.com"}, environ={}, env_file=None)
    assert config.to_dict()["mlflow_tracking_uri"] == "https://alice:***@mlflow.example.com"
