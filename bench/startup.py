"""Start-up time of the CLI: `--help` and a config error, median of N runs, in seconds.

    .venv/bin/python bench/startup.py                 # 7 runs each
    .venv/bin/python bench/startup.py --runs 15

Both answers must come before TensorFlow is imported: a user who mistypes a key should
not wait for a deep-learning framework to load to be told so. Each run is a fresh
subprocess (what a user pays), timed from spawn to exit, with no HYPEROPT_* variables and
an empty working directory (no .env). Writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "help": (["--help"], 0),
    "config_error": (["trials=0"], 2),
}


def time_once(argv: list[str], expected_status: int, cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "src" / "optimizer.py"), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    if proc.returncode != expected_status:
        raise SystemExit(f"optimizer.py {' '.join(argv)} exited {proc.returncode}, expected {expected_status}:\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per case (7); the median is reported")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "startup.json"))
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    results = {}
    with tempfile.TemporaryDirectory(prefix="hpopt-startup-") as cwd:
        for argv, status in CASES.values():
            time_once(argv, status, cwd, env)  # warm the OS file cache and __pycache__
        times: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.runs):  # interleaved, so both cases see the same machine
            for name, (argv, status) in CASES.items():
                times[name].append(time_once(argv, status, cwd, env))
    for name, values in times.items():
        results[name] = {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
                         "max_s": round(max(values), 3), "runs": len(values),
                         "command": "python src/optimizer.py " + " ".join(CASES[name][0])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "startup", "cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    print("| command | median (s) | min–max (s) |\n|---|---|---|")
    for r in results.values():
        print(f"| `{r['command']}` | {r['median_s']:.2f} | {r['min_s']:.2f}–{r['max_s']:.2f} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
