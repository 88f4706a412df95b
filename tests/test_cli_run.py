"""The real CLI in a subprocess: a whole run's last line, and Ctrl-C mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = {"dataset": "digits", "min_epochs_per_trial": "1", "max_epochs_per_trial": "2", "plot_generation": "none",
        "n_startup_trials": "1"}


def _args(**overrides: str) -> list[str]:
    return [f"{key}={value}" for key, value in {**TINY, **overrides}.items()]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    return {**env, "PYTHONPATH": str(SRC), "HYPEROPT_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def test_a_run_prints_one_line_per_trial_and_ends_with_the_results_line(tmp_path):
    done = subprocess.run([sys.executable, str(SRC / "optimizer.py"), *_args(trials="2", run_name="cli_run")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    run_dir = tmp_path / "optimization_results" / "cli_run"
    assert lines[-1] == f"results: {run_dir}"
    assert done.stderr.count("trial ") >= 2 and "val_acc=" in done.stderr
    assert (tmp_path / "logs" / "optimization.log").stat().st_size > 0
    assert json.loads((run_dir / "summary.json").read_text())["n_trials"] == 2


def test_ctrl_c_ends_the_trial_writes_finished_trials_and_exits_130(tmp_path):
    process = subprocess.Popen([sys.executable, str(SRC / "optimizer.py"),
                                *_args(trials="50", run_name="ctrl_c", max_epochs_per_trial="3", min_epochs_per_trial="3")],
                               cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    details = tmp_path / "optimization_results" / "ctrl_c" / "trials"
    deadline = time.monotonic() + 240
    while not (details.exists() and len(list(details.glob("trial_*.json"))) >= 2):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    summary = json.loads((tmp_path / "optimization_results" / "ctrl_c" / "summary.json").read_text())
    assert summary["interrupted"] is True
    finished = [t for t in summary["trials"] if t["state"] in ("complete", "pruned")]
    assert len(finished) >= 2
    assert summary["n_trials"] < 50


def test_cli_takes_operator_settings_and_never_writes_their_passwords(tmp_path):
    """The CLI user is the operator: storage and gpu_proxy_* are accepted, their passwords masked."""
    failed = subprocess.run([sys.executable, str(SRC / "optimizer.py"),
                             *_args(trials="1", max_epochs_per_trial="1", run_name="pg_run",
                                    storage="postgresql+psycopg://user:s3cretpw@127.0.0.1:1/db")],
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0 and "127.0.0.1" in failed.stderr, failed.stderr[-2000:]
    done = subprocess.run([sys.executable, str(SRC / "optimizer.py"),
                           *_args(trials="1", max_epochs_per_trial="1", run_name="proxy_run",
                                  gpu_proxy_endpoint="http://user:s3cretpw@127.0.0.1:1",
                                  gpu_proxy_repo_url="https://s3cretpw@git.example/hpopt.git")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "optimization_results" / "proxy_run" / "summary.json").read_text())
    assert summary["config"]["gpu_proxy_endpoint"] == "http://user:***@127.0.0.1:1"
    assert summary["config"]["gpu_proxy_repo_url"] == "https://***@git.example/hpopt.git"
    assert "s3cretpw" not in failed.stdout + failed.stderr + done.stdout + done.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "optimization.log" for p in written)
    assert [str(p) for p in written if b"s3cretpw" in p.read_bytes()] == []
