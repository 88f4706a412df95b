"""Helpers for the API tests: a real server in a subprocess, and polling with deadlines.

Not a test module (no test_ prefix): test_api*.py and test_optimize_runpod.py import it.
Each server runs ``python src/api_server.py port=0`` (the OS picks a free port; the
server logs it), in its own working directory so no developer .env leaks in.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
SERVER = SRC / "api_server.py"
_LISTENING = re.compile(r"listening on (http://[^\s]+) ")

# Tiny, fast jobs on the bundled digits data (TensorFlow's import dominates their time).
TINY = {"dataset": "digits", "max_epochs_per_trial": 2, "min_epochs_per_trial": 1, "plot_generation": "none",
        "n_startup_trials": 1, "n_warmup_steps": 1, "pruner": "none", "log_level": "INFO"}


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without HYPEROPT_* settings, offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HYPEROPT_")}
    env.update({"HYPEROPT_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(SRC),
                "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "-1"})
    env.update(extra)
    return env


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class ApiServer:
    """``python src/api_server.py`` on a free loopback port, logging to a file."""

    def __init__(self, workdir: Path, results_dir: Path, *args: str, env: Optional[dict[str, str]] = None) -> None:
        self.workdir, self.results_dir = workdir, results_dir
        self.args = ["port=0", "host=127.0.0.1", f"results_dir={results_dir}", "stop_grace_s=60", *args]
        self.env = env or clean_env()
        self.log_path = workdir / f"server-{time.monotonic_ns()}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""

    def start(self, timeout: float = 60) -> "ApiServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"server-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(SERVER), *self.args], cwd=self.workdir, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)

        def listening() -> Optional[str]:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            match = _LISTENING.search(self.log())
            return match.group(1) if match else None

        self.url = wait_for(listening, timeout, "the API server to listen")
        wait_for(lambda: self._healthy(), timeout, "GET /health")
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    def restart_on_same_port(self, timeout: float = 60) -> "ApiServer":
        """Start again where it listened (after kill or stop): an open page finds it at the same URL."""
        port = self.url.rsplit(":", 1)[1].strip("/")
        self.args = [f"port={port}" if arg.startswith("port=") else arg for arg in self.args]
        return self.start(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self, timeout: float = 120) -> None:
        """Ctrl-C: the server interrupts its jobs, which write their results."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def job_status(client: httpx.Client, job_id: str) -> str:
    return client.get(f"/jobs/{job_id}").json()["status"]


def wait_status(client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout: float = 180) -> dict:
    def check() -> Optional[dict]:
        job = client.get(f"/jobs/{job_id}").json()
        return job if job["status"] in statuses else None

    return wait_for(check, timeout, f"job {job_id} to become {'/'.join(statuses)}", interval=0.3)


def finished_trials(client: httpx.Client, job_id: str) -> list[dict]:
    return client.get(f"/jobs/{job_id}/trials").json()["trials"]
