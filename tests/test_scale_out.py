"""workers=N, several machines on one PostgreSQL study, and a worker killed mid-trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = ["dataset=digits", "min_epochs_per_trial=1", "max_epochs_per_trial=1", "plot_generation=none",
        "n_startup_trials=1", "warm_start=false"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    return {**env, "PYTHONPATH": str(SRC), "HYPEROPT_OFFLINE": "1"}


def _optimizer(cwd: Path, *args: str) -> subprocess.Popen:
    keys = {arg.split("=", 1)[0] for arg in args}
    base = [arg for arg in TINY if arg.split("=", 1)[0] not in keys]
    return subprocess.Popen([sys.executable, str(SRC / "optimizer.py"), *base, *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float = 420) -> str:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return stderr


def test_two_workers_share_one_study_of_the_capped_size(tmp_path):
    # No GPU proxy endpoint is configured: each worker trains locally and warns once; the
    # workers' warnings reach the run's summary.json through the pool.
    _finish(_optimizer(tmp_path, "trials=6", "workers=2", "run_name=pool", "use_gpu_proxy=true"))
    summary = json.loads((tmp_path / "optimization_results" / "pool" / "summary.json").read_text())
    assert summary["n_trials"] == 6
    fallbacks = [w for w in summary["warnings"] if "training locally" in w["message"]]
    assert sorted(w.get("process") for w in fallbacks) == ["hpopt-worker-0", "hpopt-worker-1"], summary["warnings"]
    assert list(summary["execution"]["places"]) == ["local"] and summary["execution"]["places"]["local"]["trials"] == 6
    assert sorted(t["number"] for t in summary["trials"]) == list(range(6))
    workers = {t["worker"] for t in summary["trials"]}
    assert len(workers) == 2, workers
    params = [json.dumps(t["params"], sort_keys=True) for t in summary["trials"]]
    assert len(set(params)) == len(params), "workers sampled identical trials"




def test_two_processes_on_postgres_share_one_capped_study(tmp_path, postgres_url):
    study_name = f"shared_{os.getpid()}_{int(time.time())}"
    machines = [tmp_path / "machine_a", tmp_path / "machine_b"]
    processes = []
    for cwd in machines:
        cwd.mkdir()
        processes.append(_optimizer(cwd, "trials=5", f"storage={postgres_url}", f"study_name={study_name}",
                                    "run_name=shared"))
    for process in processes:
        _finish(process)
    study = optuna.load_study(study_name=study_name, storage=postgres_url)
    finished = [t for t in study.trials if t.state.is_finished() and not t.user_attrs.get("over_cap")]
    assert len(finished) == 5
    workers = {t.user_attrs.get("worker") for t in finished}
    assert len(workers) == 2, f"both processes should have run trials: {workers}"
    for cwd in machines:  # each machine's summary lists the whole study
        summary = json.loads((cwd / "optimization_results" / "shared" / "summary.json").read_text())
        assert summary["n_trials"] == 5


def test_a_worker_killed_mid_trial_has_its_trial_rerun(tmp_path):
    process = _optimizer(tmp_path, "trials=5", "workers=2", "run_name=kill", "heartbeat_interval_s=1",
                         "min_epochs_per_trial=4", "max_epochs_per_trial=4")
    storage = f"sqlite:///{tmp_path / 'optimization_results' / 'hpopt_studies.db'}"
    deadline = time.monotonic() + 240
    victim = None
    while victim is None:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no trial started in time"
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="kill", storage=storage)
        except (KeyError, Exception):  # the study is not created yet
            continue
        running = [t for t in study.trials if t.state.name == "RUNNING" and t.user_attrs.get("worker")]
        if running:
            victim = running[0]
    os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
    _finish(process)
    summary = json.loads((tmp_path / "optimization_results" / "kill" / "summary.json").read_text())
    rows = {t["number"]: t for t in summary["trials"]}
    # The lost trial is the one the killed worker was running when the signal landed: the
    # snapshot above may have finished in the instant before, so find it by its outcome.
    lost_rows = [t for t in summary["trials"] if t["state"] == "failed"]
    assert len(lost_rows) == 1, summary["trials"]
    lost = lost_rows[0]
    assert "re-run as trial" in lost["failure"]
    rerun = rows[int(lost["failure"].rsplit(" ", 1)[1])]
    assert rerun["params"] == lost["params"] and rerun["state"] in ("complete", "pruned")
    finished = [t for t in summary["trials"] if t["state"] in ("complete", "pruned")]
    assert len(finished) == 5
    assert (tmp_path / "optimization_results" / "kill" / "best_model.keras").is_file()
