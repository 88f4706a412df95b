"""The real GPU worker in a subprocess, for tests that need one (no TensorFlow in the test process).

Not a test module (no test_ prefix): test_gpu_proxy_worker.py and test_api_gpu_proxy_health.py
import it. ``python gpu-proxy/handler.py --rp_serve_api --rp_api_host 127.0.0.1 --rp_api_port N``
is the runpod SDK's local API server around the real handler: hpopt talks to it exactly as to a
RunPod endpoint given as a URL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.endpoint import Endpoint

REPO = Path(__file__).resolve().parents[1]
HANDLER = REPO / "gpu-proxy" / "handler.py"
START_TIMEOUT_S = 120


@dataclass
class RunningWorker:
    url: str
    process: subprocess.Popen
    log: Path

    def client(self) -> GpuProxyClient:
        return GpuProxyClient(Endpoint(self.url, "test"), max_request_bytes=10_000_000)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_worker(folder: Path, concurrency: int = 2, handler: Path = HANDLER):
    """A worker on a free loopback port, ready (it answered a health check) when yielded; ``handler``:
    another worker's handler.py (its readiness is any answer to /runsync)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "worker.log"
    env = {**os.environ, "HPOPT_PROXY_CONCURRENCY": str(concurrency), "HYPEROPT_OFFLINE": "1",
           "HPOPT_PROXY_CACHE_DIR": str(folder / "cache"), "PYTHONPATH": str(REPO / "src")}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(handler), "--rp_serve_api", "--rp_api_host", "127.0.0.1",
                                    "--rp_api_port", str(port)], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    worker = RunningWorker(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the worker exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                response = httpx.post(f"{worker.url}/runsync", json={"input": {"operation": "health_check"}},
                                      timeout=10)
                ours = handler == HANDLER
                if response.status_code == 200 and (not ours or response.json()["output"][0]["type"] == "health"):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield worker
    finally:
        worker.stop()
