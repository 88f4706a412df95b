"""What the GPU proxy costs over local training, and whether it gives the same epochs.

Starts a worker on loopback (the runpod SDK's local API server), trains the same specs
locally and through the proxy (data inline: the upload happens once), and prints per-trial
wall time and the largest per-epoch val_accuracy difference. Never part of the test run.

    .venv/bin/python bench/gpu_proxy_overhead.py --trials 3 --epochs 2 [--dataset digits]

Writes bench/results/gpu_proxy_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def start_worker(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, str(REPO / "gpu-proxy" / "handler.py"), "--rp_serve_api",
                             "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()

    from hpopt.datasets import load_dataset
    from hpopt.executors.gpu_proxy import GpuProxyExecutor
    from hpopt.gpu_proxy.client import GpuProxyClient
    from hpopt.gpu_proxy.data_link import DataLink
    from hpopt.gpu_proxy.endpoint import Endpoint
    from hpopt.runner import data_shape
    from hpopt.search_space import baseline_architecture
    from hpopt.spec import TrialSpec
    from hpopt.training import run_trial

    data = load_dataset(args.dataset, seed=42)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = start_worker(port)
    try:
        client = GpuProxyClient(Endpoint(f"http://127.0.0.1:{port}", "bench"), max_request_bytes=50_000_000)
        deadline = time.monotonic() + 120
        while True:
            try:
                client.health(timeout_s=10)
                break
            except Exception:  # noqa: BLE001 - still starting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        executor = GpuProxyExecutor(client, DataLink(None), fallback_local=False)
        architecture = baseline_architecture(data_shape(data))
        rows = []
        for number in range(args.trials):
            spec = TrialSpec(architecture=architecture, data=data_shape(data),
                             epochs=args.epochs, seed=number)
            started = time.perf_counter()
            local = run_trial(spec, data)
            local_s = time.perf_counter() - started
            started = time.perf_counter()
            remote = executor.run(spec, data, None)
            remote_s = time.perf_counter() - started
            gap = max(abs(a.val_accuracy - b.val_accuracy) for a, b in zip(local.history, remote.history))
            rows.append({"trial": number, "local_s": round(local_s, 2), "proxy_s": round(remote_s, 2),
                         "remote_train_s": round(remote.train_seconds, 2), "max_val_accuracy_diff": gap})
            print(f"trial {number}: local {local_s:.2f} s, proxy {remote_s:.2f} s "
                  f"(training {remote.train_seconds:.2f} s there), max val_accuracy diff {gap:.1e}")
        out = REPO / "bench" / "results" / "gpu_proxy_overhead.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"dataset": args.dataset, "epochs": args.epochs, "trials": rows}, indent=2))
        print(f"written: {out}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


if __name__ == "__main__":
    main()
