"""Resuming a study: settings that must not change, and configurations that never run twice."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from hpopt import cli
from hpopt.config import load_config
from hpopt.runner import run_optimization
from hpopt.spec import EpochRecord, TrialResult
from hpopt.study import (
    DUPLICATE_ATTR,
    FINGERPRINT_ATTR,
    StudyMismatchError,
    counted_trials,
    gave_way,
    open_or_create_study,
    open_study,
    sampler_seed,
)

SRC = Path(__file__).resolve().parents[1] / "src"
GOOD_CNN = dict(hidden_layers=1, conv_layers=2, filters=32, kernel_size=3, activation="relu",
                kernel_initializer="he_normal", batch_norm=False, pooling="flatten", hidden_units=128,
                dropout=0.0, optimizer="adam", learning_rate=3e-3, batch_size=32, epochs=1)
TINY = {"dataset": "digits", "min_epochs_per_trial": "1", "max_epochs_per_trial": "1", "plot_generation": "none",
        "warm_start": "false", "pruner": "none", "sampler": "random", "save_best_model": "false"}


def _config(tmp_path: Path, **settings: str):
    return load_config({"results_dir": str(tmp_path / "results"), **TINY, **settings}, environ={}, env_file=None)


class _InstantExecutor:
    """Trains nothing: a complete trial whose accuracy depends on its learning rate."""

    name = "local"

    def run(self, spec, data, reporter):
        accuracy = min(0.99, spec.architecture.learning_rate * 50)
        record = EpochRecord(epoch=1, loss=1.0, accuracy=accuracy, val_loss=1.0, val_accuracy=accuracy, seconds=0.0)
        return TrialResult(history=[record], status="complete", val_accuracy=accuracy, best_epoch=1, param_count=1,
                           train_seconds=0.0)


@pytest.fixture
def instant(monkeypatch):
    import hpopt.trial_loop

    monkeypatch.setattr(hpopt.trial_loop, "make_executor", lambda config: _InstantExecutor())


def _run_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials of the run: what summary.json lists."""
    return [t for t in study.get_trials(deepcopy=False) if not gave_way(t)]


# --- settings a resumed study must keep -----------------------------------------------------------

@pytest.mark.parametrize("key, first, changed", [
    ("random_seed", "42", "7"),
    ("validation_split", "0.2", "0.3"),
    ("test_size", "0.2", "0.25"),
    ("data_dir", "data_a", "data_b"),
])
def test_resuming_with_other_data_settings_exits_2_naming_the_key(tmp_path, monkeypatch, capsys, key, first, changed):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data_a").mkdir()
    (tmp_path / "data_b").mkdir()
    open_study(_config(tmp_path, **{key: first}), "split")  # the study as an earlier run left it
    args = [f"{k}={v}" for k, v in TINY.items()]
    code = cli.main([*args, f"results_dir={tmp_path / 'results'}", "study_name=split", "trials=2", f"{key}={changed}"])
    error = capsys.readouterr().err
    assert code == 2, error
    assert key in error and "cannot resume study 'split'" in error
    if key == "data_dir":
        assert str(tmp_path / "data_a") in error and str(tmp_path / "data_b") in error
    else:
        assert f"{key} was {float(first) if '.' in first else int(first)!r}" in error
        assert changed in error
    assert len(open_study(_config(tmp_path, **{key: first}), "split").trials) == 0  # nothing ran


def test_data_dir_is_compared_as_the_folder_it_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    open_study(_config(tmp_path, data_dir="data"), "paths")
    open_study(_config(tmp_path, data_dir=str(tmp_path / "data")), "paths")  # same folder: resumes
    with pytest.raises(StudyMismatchError, match="data_dir"):
        open_study(_config(tmp_path, data_dir=str(tmp_path)), "paths")


def test_a_study_from_before_the_data_keys_resumes_and_gets_them(tmp_path):
    study = open_study(_config(tmp_path), "old")
    old_keys = ("dataset", "mode", "optimize_for", "health_weight", "activation", "min_epochs_per_trial",
                "max_epochs_per_trial")
    study.set_user_attr(FINGERPRINT_ATTR, {k: study.user_attrs[FINGERPRINT_ATTR][k] for k in old_keys})
    resumed = open_study(_config(tmp_path, random_seed="5"), "old")  # unknown before: not a change
    assert resumed.user_attrs[FINGERPRINT_ATTR]["random_seed"] == 5
    with pytest.raises(StudyMismatchError, match="random_seed was 5, now 6"):
        open_study(_config(tmp_path, random_seed="6"), "old")
    with pytest.raises(StudyMismatchError, match="mode"):
        open_study(_config(tmp_path, random_seed="5", mode="health"), "old")


# --- sampler seeds ----------------------------------------------------------------------------------

def test_sampler_seed_is_random_seed_for_the_creator_and_differs_for_everyone_else(tmp_path):
    config = _config(tmp_path, random_seed="3")
    assert sampler_seed(config, 0, created=True, existing_trials=0) == 3
    resumed = {sampler_seed(config, w, created=False, existing_trials=n) for w in range(3) for n in (0, 4, 9)}
    assert len(resumed) == 9 and 3 not in resumed
    _, created = open_or_create_study(config, "seeds")
    _, again = open_or_create_study(config, "seeds")
    assert created and not again


# --- configurations never run twice -----------------------------------------------------------------

def test_a_resumed_study_never_repeats_a_finished_configuration(tmp_path, instant):
    run_optimization(_config(tmp_path, run_name="again", trials="4", activation="relu"))
    run_optimization(_config(tmp_path, run_name="again", trials="12", activation="relu"))
    study = open_study(_config(tmp_path, activation="relu"), "again")
    trials = _run_trials(study)
    assert len(trials) == 12 == counted_trials(study)
    params = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert len(set(params)) == 12, "a resumed run redrew a configuration that already ran"
    summary = json.loads((tmp_path / "results" / "again" / "summary.json").read_text())
    assert summary["n_trials"] == 12 and sorted(t["number"] for t in summary["trials"]) == [t.number for t in trials]


class _OneConfiguration(optuna.samplers.BaseSampler):
    """A search space of one point: every sample is the same configuration."""

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return GOOD_CNN[param_name]


def test_repeats_are_not_trained_or_counted_and_an_exhausted_space_stops(tmp_path, instant, monkeypatch, caplog):
    import hpopt.study

    monkeypatch.setattr(hpopt.study, "make_sampler", lambda config, seed: _OneConfiguration())
    config = _config(tmp_path, run_name="tiny", trials="30")
    study = open_study(config, "tiny")
    for _ in range(2):  # enqueued trials run what they are given, even twice
        study.enqueue_trial(GOOD_CNN)
    with caplog.at_level(logging.WARNING, logger="hpopt"):
        run_dir = run_optimization(config)
    assert "search space is exhausted" in caplog.text
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials[:2]] == ["COMPLETE", "COMPLETE"]
    assert [t.user_attrs.get(DUPLICATE_ATTR) for t in trials[2:]] == [0] * 20
    assert counted_trials(study) == 2
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [t["number"] for t in summary["trials"]] == [0, 1] and summary["n_failed"] == 0


# A CLI process whose trials take half a second and train nothing (the sampling, the study and
# the storage are the real ones); no trial starts before both processes have opened the study.
SLOW_CLI = """
import os, sys, time
from pathlib import Path
import hpopt.trial_loop
from hpopt.identity import worker_name
from hpopt.spec import EpochRecord, TrialResult

class HalfSecondExecutor:
    name = "local"

    def __init__(self):
        barrier = Path(os.environ["BARRIER"])
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    def run(self, spec, data, reporter):
        time.sleep(0.5)
        record = EpochRecord(epoch=1, loss=1.0, accuracy=0.5, val_loss=1.0, val_accuracy=0.5, seconds=0.5)
        return TrialResult(history=[record], status="complete", val_accuracy=0.5, best_epoch=1, param_count=1,
                           train_seconds=0.5, worker=worker_name())

hpopt.trial_loop.make_executor = lambda config: HalfSecondExecutor()
from hpopt.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_two_processes_on_one_storage_never_repeat_a_configuration(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "barrier").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    env.update(PYTHONPATH=str(SRC), HYPEROPT_OFFLINE="1", BARRIER=str(tmp_path / "barrier"))
    settings = {**TINY, "warm_start": "true", "activation": "relu", "trials": "12", "storage": storage,
                "study_name": "shared"}
    args = [f"{k}={v}" for k, v in settings.items()]
    processes = [subprocess.Popen([sys.executable, "-c", SLOW_CLI, *args, f"run_name=machine_{i}"],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-3000:]
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = _run_trials(study)
    assert len(trials) == 12
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "one process ran every trial"
    params = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert len(set(params)) == 12, "two processes trained the same configuration"
