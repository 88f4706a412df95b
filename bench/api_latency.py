"""Latency of GET /jobs/{id} while two jobs train (the API must stay responsive).

    .venv/bin/python bench/api_latency.py [--requests 2000] [--job-nice 5] [--url URL]

Starts ``python src/api_server.py`` on a free loopback port with max_concurrent_jobs=2
(unless --url names a running server), submits two digits jobs big enough to train for
the whole measurement, waits until both have finished an epoch, then sends --requests
sequential GET /jobs/{id} (alternating between the two jobs) over one keep-alive
connection and prints p50/p90/p99/max in milliseconds. Stops both jobs and the server at
the end. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
JOB = {"dataset": "digits", "trials": 500, "max_epochs_per_trial": 4, "min_epochs_per_trial": 2,
       "plot_generation": "none", "pruner": "none", "log_level": "INFO"}


def start_server(workdir: Path, job_nice: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    env.update(HYPEROPT_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(REPO / "src" / "api_server.py"), "port=0", "max_concurrent_jobs=2",
                             f"job_nice={job_nice}", f"results_dir={workdir / 'results'}", "server_log_level=WARNING"],
                            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://\S+) ", (workdir / "server.log").read_text(errors="replace"))
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{(workdir / 'server.log').read_text(errors='replace')}")


def wait_training(client: httpx.Client, job_ids: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [client.get(f"/jobs/{j}").json() for j in job_ids]
        if all(j["status"] == "running" and (j["progress"]["current_epoch"] or j["progress"]["trials_finished"])
               for j in jobs):
            return
        if any(j["status"] not in ("pending", "running") for j in jobs):
            raise SystemExit(f"a job ended early: {[(j['status'], j['error']) for j in jobs]}")
        time.sleep(0.5)
    raise SystemExit("the jobs did not start training in time")


def measure(client: httpx.Client, job_ids: list[str], requests: int) -> list[float]:
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        response = client.get(f"/jobs/{job_ids[i % len(job_ids)]}")
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--job-nice", type=int, default=5, help="niceness of the job processes (server setting)")
    parser.add_argument("--url", help="use this running server instead of starting one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpopt-bench-") as tmp:
        proc, url = (None, args.url) if args.url else start_server(Path(tmp), args.job_nice)
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                job_ids = [client.post("/optimize", json=JOB).json()["job_id"] for _ in range(2)]
                wait_training(client, job_ids)
                measure(client, job_ids, 50)  # warm-up: first reads of each job's event log
                latencies = measure(client, job_ids, args.requests)
                running = [client.get(f"/jobs/{j}").json()["status"] for j in job_ids]
                for job_id in job_ids:
                    client.post(f"/jobs/{job_id}/stop")
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"GET /jobs/{{id}} x{len(latencies)} while two jobs train (still {running}), "
          f"{os.cpu_count()} CPUs, job_nice={args.job_nice}")
    print(f"p50 {percentile(latencies, 50):.2f} ms  p90 {percentile(latencies, 90):.2f} ms  "
          f"p99 {percentile(latencies, 99):.2f} ms  max {max(latencies):.2f} ms  "
          f"mean {statistics.fmean(latencies):.2f} ms")
    return 0 if percentile(latencies, 99) < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
