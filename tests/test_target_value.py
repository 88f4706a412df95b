"""target_value (issue 17): the study ends once a finished trial reaches it, and says so."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from hpopt.config import ConfigError, load_config
from hpopt.target import StopAtTarget, reaches, stopped_reason

REPO = Path(__file__).resolve().parents[1]


def test_reaching_follows_the_direction():
    assert reaches(0.93, 0.9, "maximize") and reaches(0.9, 0.9, "maximize") and not reaches(0.89, 0.9, "maximize")
    assert reaches(12.0, 15.0, "minimize") and not reaches(16.0, 15.0, "minimize")


@pytest.mark.parametrize("direction,values,stops_after", [
    ("maximize", [0.5, 0.7, 0.95, 0.99, 0.2], 3),
    ("minimize", [9.0, 4.0, 1.5, 0.1, 3.0], 3),
])
def test_the_callback_stops_the_study_at_the_first_trial_reaching_the_target(direction, values, stops_after):
    target = 0.9 if direction == "maximize" else 2.0
    study = optuna.create_study(direction=direction)
    queue = iter(values)
    study.optimize(lambda trial: next(queue), n_trials=len(values), callbacks=[StopAtTarget(target)])
    assert len(study.trials) == stops_after
    assert stopped_reason(study, target) == f"target_value {target:g} reached by trial 2 (value {values[2]:.4g})"
    assert stopped_reason(study, None) is None and StopAtTarget(None)(study, study.trials[0]) is None


def test_a_target_reached_by_another_process_stops_this_one_too(tmp_path):
    """Workers share the study's storage: one worker's trial reaching the target stops the others."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    other = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    other.optimize(lambda trial: 0.95, n_trials=1)
    this = optuna.load_study(storage=storage, study_name="s")
    this.optimize(lambda trial: 0.1, n_trials=5, callbacks=[StopAtTarget(0.9)])
    assert len(this.trials) == 2  # its own first trial ends, then it takes no new one


def test_the_worker_pool_restarts_no_worker_once_the_target_is_reached(tmp_path):
    from hpopt.run_clock import RunClock
    from hpopt.worker_pool import WorkerPool

    study = optuna.create_study(direction="maximize")
    study.optimize(lambda trial: 0.95, n_trials=1)
    for target, remains in ((0.9, False), (0.99, True), (None, True)):
        config = load_config({"target_value": "none" if target is None else str(target), "trials": "10",
                              "workers": "2"}, environ={}, env_file=None)
        pool = WorkerPool(config, study, tmp_path, listener=None, clock=RunClock.start(None))
        assert pool.work_remains() is remains, target


def test_target_value_is_a_number_and_not_for_pareto():
    assert load_config({"target_value": "0.9"}, environ={}, env_file=None).target_value == 0.9
    assert load_config({}, environ={}, env_file=None).target_value is None
    for bad in ({"target_value": "high"}, {"target_value": "nan"}):
        with pytest.raises(ConfigError, match="target_value"):
            load_config(bad, environ={}, env_file=None)
    with pytest.raises(ConfigError, match="target_value=0.9 cannot be used with mode='pareto'"):
        load_config({"target_value": "0.9", "mode": "pareto"}, environ={}, env_file=None)


def test_target_value_on_digits_stops_before_trials_and_says_why(tmp_path):
    env = dict(os.environ, HYPEROPT_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "src/optimizer.py", "dataset=digits", "trials=10", "target_value=0.9",
         "max_epochs_per_trial=3", "min_epochs_per_trial=2", "plot_generation=none", "run_name=target",
         f"results_dir={tmp_path}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    at = next(i for i, line in enumerate(lines) if line.startswith("results: "))
    assert re.fullmatch(r"stopped: target_value 0\.9 reached by trial \d+ \(value (0\.9\d*|1)\)", lines[at - 1]), lines[at - 1]
    summary = json.loads((tmp_path / "target" / "summary.json").read_text())
    assert summary["n_trials"] < 10
    assert summary["stopped_reason"] == lines[at - 1].removeprefix("stopped: ")
    assert "Stopped early: target_value 0.9" in (tmp_path / "target" / "report.md").read_text()


def test_the_api_refuses_target_value_in_pareto_mode_naming_the_key(tmp_path):
    """The API validates a request as the CLI does (a RequestError is answered 422 with its key)."""
    from hpopt.api.optimize_request import RequestError, config_from_body

    assert config_from_body({"target_value": 0.95, "class_weight": "balanced"}, tmp_path, env_file=None).target_value == 0.95
    with pytest.raises(RequestError) as refused:
        config_from_body({"target_value": 0.9, "mode": "pareto"}, tmp_path, env_file=None)
    assert "target_value" in str(refused.value)
