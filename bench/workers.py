"""workers=1 vs workers=2 on the same study size: wall seconds and the speed-up.

    .venv/bin/python bench/workers.py                       # digits, trials=8, once each
    .venv/bin/python bench/workers.py --repeats 3 --set max_epochs_per_trial=10

Scale-out is only worth its processes if N workers finish the same number of trials
sooner than one. Each run is the CLI as a user starts it (a subprocess, a fresh results
folder, no .env, no HYPEROPT_* variables), timed from spawn to exit; the variants
alternate, so both see the same machine. On 2 CPU cores expect little: each worker gets
half the cores (TF_NUM_INTRAOP_THREADS), so only the per-trial overhead that does not use
both cores (start-up, Python, storage) can overlap. Writes bench/results/workers.json.
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
# make run's demo settings: a short search that still prunes and samples
BASE_ARGS = ["dataset=digits", "trials=8", "min_epochs_per_trial=2", "max_epochs_per_trial=6", "n_startup_trials=3",
             "n_warmup_steps=1", "plot_generation=none", "random_seed=1"]


def run_once(workers: int, extra: list[str], workdir: Path) -> tuple[float, dict]:
    """Wall seconds of one CLI run and a few facts from its summary.json."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    env.update(HYPEROPT_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3")
    results_dir = workdir / f"results_w{workers}_{time.monotonic_ns()}"
    argv = [sys.executable, str(ROOT / "src" / "optimizer.py"), *BASE_ARGS, *extra, f"workers={workers}",
            f"results_dir={results_dir}", "run_name=bench"]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"workers={workers} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    summary = json.loads((results_dir / "bench" / "summary.json").read_text())
    return seconds, {k: summary.get(k) for k in ("n_trials", "n_complete", "n_pruned", "n_failed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant (1); medians are reported")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help=f"extra CLI settings for both variants (base: {' '.join(BASE_ARGS)})")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "workers.json"))
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    facts: dict[int, list[dict]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="hpopt-workers-") as tmp:
        for i in range(args.repeats):
            for workers in ((1, 2) if i % 2 == 0 else (2, 1)):
                seconds, summary = run_once(workers, args.set, Path(tmp))
                times[workers].append(seconds)
                facts[workers].append(summary)
                print(f"  workers={workers}: {seconds:.1f} s {summary}", flush=True)
    w1, w2 = statistics.median(times[1]), statistics.median(times[2])
    command = "python src/optimizer.py " + " ".join([*BASE_ARGS, *args.set]) + " workers=N"
    result = {"benchmark": "workers", "cpus": os.cpu_count(), "command": command,
              "workers_1_s": round(w1, 1), "workers_2_s": round(w2, 1), "speedup": round(w1 / w2, 2),
              "runs": {str(k): [round(t, 1) for t in v] for k, v in times.items()}, "summaries": facts}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n| `{command}` | workers=1 | workers=2 | speed-up |\n|---|---|---|---|\n"
          f"| median of {args.repeats} | {w1:.1f} s | {w2:.1f} s | {w1 / w2:.2f}x |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
