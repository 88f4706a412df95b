"""A run killed outright (SIGKILL: no Python code runs) and started again at once.

The killed process leaves its trial RUNNING in storage and its results folder stale. The
next start of the study (a CLI re-run, an API job's resume) must fail that trial at once,
with the reason, not count it towards ``trials``, and rewrite summary.json and trials.csv
from storage, so nothing reads as running.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from api_helpers import TINY, ApiServer, wait_for, wait_status

from hpopt.study import gave_way
from hpopt.trial_record import trial_state

SRC = Path(__file__).resolve().parents[1] / "src"
DIED = "died; failed at the next start"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    return {**env, "PYTHONPATH": str(SRC), "HYPEROPT_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "CUDA_VISIBLE_DEVICES": "-1"}


def _load(storage: str, study_name: str):
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except Exception:  # noqa: BLE001 - the file or the study does not exist yet
        return None


def _running_trial(storage: str, study_name: str, alive: subprocess.Popen | None = None):
    """A RUNNING trial that already names its worker (host:pid), or None."""
    if alive is not None and alive.poll() is not None:
        raise AssertionError(f"the run ended before a trial was seen running: {alive.communicate()[1][-3000:]}")
    study = _load(storage, study_name)
    if study is None:
        return None
    return next((t for t in study.trials if t.state.name == "RUNNING" and t.user_attrs.get("worker")), None)


def _assert_recovered(storage: str, study_name: str, run_dir: Path, victim_number: int, trials: int) -> None:
    """Storage: the dead trial failed with the reason, ``trials`` counted trials, none running;
    summary.json and trials.csv say the same."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    stored = [t for t in study.trials if not gave_way(t)]
    dead = study.trials[victim_number]
    assert dead.state.name == "FAIL", dead.state
    assert DIED in dead.user_attrs["failure"] and dead.user_attrs["worker"] in dead.user_attrs["failure"]
    assert not [t.number for t in study.trials if t.state.name in ("RUNNING", "WAITING")]
    finished = [t for t in stored if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == trials, [(t.number, t.state.name) for t in stored]

    summary = json.loads((run_dir / "summary.json").read_text())
    rows = {row["number"]: row for row in summary["trials"]}
    assert sorted(rows) == [t.number for t in stored]
    for trial in stored:  # one rule: chance level reads "no_learning", a stopped trial "stopped"
        assert rows[trial.number]["state"] == trial_state(trial), trial.number
    assert summary["n_trials"] == len(stored)
    assert summary["n_complete"] == sum(t.state.name == "COMPLETE" for t in stored)
    assert summary["n_failed"] == sum(t.state.name == "FAIL" for t in stored)
    assert summary["n_pruned"] + summary["n_no_learning"] == sum(t.state.name == "PRUNED" for t in stored)
    assert "running" not in {row["state"] for row in summary["trials"]}
    assert rows[victim_number]["state"] == "failed" and DIED in rows[victim_number]["failure"]
    for trial in stored:
        if trial.values:
            assert rows[trial.number]["value"] == pytest.approx(trial.values[0])
    table = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert [(int(r["number"]), r["state"]) for r in table] == [(r["number"], r["state"]) for r in summary["trials"]]


def test_cli_killed_mid_trial_then_rerun_fails_the_dead_trial(tmp_path):
    results = tmp_path / "results"
    command = [sys.executable, str(SRC / "optimizer.py"), "dataset=digits", "trials=3", "min_epochs_per_trial=2",
               "max_epochs_per_trial=2", "run_name=x", f"results_dir={results}", "plot_generation=none"]
    storage = f"sqlite:///{results / 'hpopt_studies.db'}"
    first = subprocess.Popen(command, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        victim = wait_for(lambda: _running_trial(storage, "x", first), 300, "a running trial", interval=0.2)
        assert victim.user_attrs["worker"].endswith(f":{first.pid}")
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert _load(storage, "x").trials[victim.number].state.name == "RUNNING"  # what the kill left behind

    again = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_recovered(storage, "x", results / "x", victim.number, trials=3)


def test_api_job_killed_mid_trial_then_resumed_fails_the_dead_trial(tmp_path):
    results = tmp_path / "results"
    storage = f"sqlite:///{results / 'hpopt_studies.db'}"
    server = ApiServer(tmp_path, results).start()
    try:
        with server.client() as client:
            response = client.post("/optimize", json={**TINY, "trials": 3, "run_name": "crash",
                                                      "min_epochs_per_trial": 2, "max_epochs_per_trial": 2})
            assert response.status_code == 201, response.text
            job_id = response.json()["job_id"]
            victim = wait_for(lambda: _running_trial(storage, "crash"), 300, "a running trial", interval=0.2)
            pid = int(victim.user_attrs["worker"].rsplit(":", 1)[1])
            assert (results / ".hpopt_jobs" / job_id / "job.lock").read_text().strip() == str(pid)
            os.kill(pid, signal.SIGKILL)
            job = wait_status(client, job_id, ("failed", "completed", "interrupted", "cancelled"), timeout=60)
            assert job["status"] == "failed", job
            assert _load(storage, "crash").trials[victim.number].state.name == "RUNNING"
            response = client.post(f"/jobs/{job_id}/resume")
            assert response.status_code == 202, response.text
            job = wait_status(client, job_id, ("completed", "failed", "interrupted", "cancelled"), timeout=400)
            assert job["status"] == "completed" and job["attempts"] == 2, job
        _assert_recovered(storage, "crash", results / "crash", victim.number, trials=3)
    finally:
        server.stop()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_provably_dead_workers_trials_are_failed_and_never_counted(tmp_path):
    import socket

    from hpopt.config import load_config
    from hpopt.identity import pid_namespace, worker_gone, worker_name
    from hpopt.study import counted_trials, fail_dead_trials, open_study

    config = load_config({"results_dir": str(tmp_path), "trials": "3"}, environ={}, env_file=None)
    study = open_study(config, "unit")
    host = socket.gethostname()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # ended, never waited for
    wait_for(lambda: worker_gone(f"{host}:{zombie.pid}"), 30, "the child to end")
    owners = {"dead": f"{host}:{_dead_pid()}", "zombie": f"{host}:{zombie.pid}", "alive": worker_name(),
              "elsewhere": "another-host:1", "unnamed": None, "retried_dead": f"{host}:{_dead_pid()}",
              "other_container": f"{host}:{_dead_pid()}"}  # same host name, another PID namespace
    numbers = {}
    for label, worker in owners.items():
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        if worker:
            trial.set_user_attr("worker", worker)
            trial.set_user_attr("worker_pid_namespace", "0:1" if label == "other_container" else pid_namespace())
        if label == "retried_dead":  # already the one re-run of a lost trial: not re-run again
            study._storage.set_trial_system_attr(trial._trial_id, "failed_trial", 0)
            study._storage.set_trial_system_attr(trial._trial_id, "retry_history", [0])
        numbers[label] = trial.number
    assert sorted(fail_dead_trials(study)) == sorted(numbers[k] for k in ("dead", "zombie", "retried_dead"))
    assert fail_dead_trials(study) == []  # a second start finds nothing left to fail
    zombie.wait()
    trials = study.trials
    for label in ("dead", "zombie", "retried_dead"):
        trial = trials[numbers[label]]
        assert trial.state.name == "FAIL" and trial.user_attrs["failure"] == f"worker {owners[label]} {DIED}"
    for label in ("alive", "elsewhere", "unnamed", "other_container"):
        assert trials[numbers[label]].state.name == "RUNNING", label
    reruns = [t for t in trials if t.state.name == "WAITING"]
    assert sorted(t.system_attrs["failed_trial"] for t in reruns) == sorted([numbers["dead"], numbers["zombie"]])
    assert all(t.params == trials[t.system_attrs["failed_trial"]].params and not t.user_attrs for t in reruns)
    assert counted_trials(study) == 0  # none of the dead trials counts towards the cap
