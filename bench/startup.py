"""Start-up time of the CLI: `--help`, a config error, and launch to the first epoch.

    .venv/bin/python bench/startup.py                 # 7 runs of the quick cases, 5 of first-epoch
    .venv/bin/python bench/startup.py --runs 3        # 3 of each
    .venv/bin/python bench/startup.py --no-first-epoch   # only --help and the config error (seconds)

`--help` and a config error must answer before TensorFlow is imported: a user who mistypes a
key should not wait for a deep-learning framework to load to be told so. Each run is a fresh
subprocess (what a user pays), timed from spawn to exit, with no HYPEROPT_* variables and an
empty working directory (no .env).

Launch to first epoch: the time from spawning the process until the first trial's first
epoch begins (Python and TensorFlow imports, data load, model build), for
`python src/optimizer.py dataset=... trials=1 max_epochs_per_trial=1 min_epochs_per_trial=1
plot_generation=none`, against bench/plain_keras_startup.py (the plain Keras script a user
writes: same data, same CNN, `fit` begins). hpopt's figure is read from its
summary.json (`wall_time.launched_at_unix + wall_time.first_epoch_started_s`), the plain
script's from the time.time() it prints in on_train_begin; both minus the time.time() this
benchmark took just before it spawned the process (one clock). hpopt and the plain script
alternate, run after run. Pass: hpopt <= 1.2 x the plain script, on each dataset.

Writes bench/results/startup.json (every sample kept).
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
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "help": (["--help"], 0),
    "config_error": (["trials=0"], 2),
}
DEFAULT_MNIST_DIR = ROOT.parent / "shared" / "datasets" / "mnist-t10k"
PASS_RATIO = 1.2
HPOPT_ARGS = ["trials=1", "max_epochs_per_trial=1", "min_epochs_per_trial=1", "plot_generation=none"]
MISSING_KEY = "hpopt: summary.json lacks wall_time.first_epoch_started_s (older hpopt)"


def time_once(argv: list[str], expected_status: int, cwd: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "src" / "optimizer.py"), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    if proc.returncode != expected_status:
        raise SystemExit(f"optimizer.py {' '.join(argv)} exited {proc.returncode}, expected {expected_status}:\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def dataset_args(dataset: str, mnist_dir: Path) -> tuple[list[str], list[str]]:
    """(hpopt's settings, the plain script's arguments) for one dataset."""
    if dataset == "digits":
        return ["dataset=digits"], ["--dataset", "digits"]
    return ["dataset=mnist", f"data_dir={mnist_dir}"], ["--dataset", "mnist", "--data-dir", str(mnist_dir)]


def _run(cmd: list[str], cwd: str, env: dict[str, str], what: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """Spawn cmd; (time.time() just before the spawn, wall seconds to exit, the process)."""
    launched = time.time()
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{what} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return launched, wall, proc


def hpopt_first_epoch(settings: list[str], cwd: str, env: dict[str, str], index: int) -> dict:
    """One hpopt run: seconds from spawn to the first trial's first epoch (None on an older hpopt)."""
    results_dir = Path(cwd) / "results"
    run_name = f"startup-{index}"
    cmd = [sys.executable, str(ROOT / "src" / "optimizer.py"), *settings, *HPOPT_ARGS,
           f"results_dir={results_dir}", f"run_name={run_name}"]
    launched, wall, _ = _run(cmd, cwd, env, "hpopt " + " ".join(settings))
    summary = json.loads((results_dir / run_name / "summary.json").read_text())
    wall_time = summary.get("wall_time") or {}
    at, first = wall_time.get("launched_at_unix"), wall_time.get("first_epoch_started_s")
    sample: dict = {"process_wall_s": round(wall, 3), "first_epoch_s": None}
    if isinstance(at, (int, float)) and isinstance(first, (int, float)):
        sample["first_epoch_s"] = round(at + first - launched, 3)
        sample["launch_offset_s"] = round(at - launched, 3)  # spawn -> hpopt's own launch stamp
    return sample


def plain_first_epoch(plain_args: list[str], cwd: str, env: dict[str, str]) -> dict:
    """One plain-script run: seconds from spawn to on_train_begin, and to each of its phases."""
    cmd = [sys.executable, str(ROOT / "bench" / "plain_keras_startup.py"), *plain_args]
    launched, wall, proc = _run(cmd, cwd, env, "plain_keras_startup.py " + " ".join(plain_args))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"process_wall_s": round(wall, 3), "first_epoch_s": round(out["first_epoch_unix"] - launched, 3),
            "phases_s": {k: round(v - launched, 3) for k, v in out["phases_unix"].items()}}


def _stats(values: list[float]) -> Optional[dict]:
    if not values:
        return None
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs": len(values)}


def measure_first_epoch(datasets: list[str], runs: int, mnist_dir: Path, env: dict[str, str]) -> dict:
    results = {}
    for dataset in datasets:
        if dataset == "mnist" and not (mnist_dir / "mnist.npz").is_file():
            print(f"mnist: skipped, no {mnist_dir / 'mnist.npz'} (set --mnist-dir)", file=sys.stderr)
            continue
        settings, plain_args = dataset_args(dataset, mnist_dir)
        samples: dict[str, list[dict]] = {"hpopt": [], "plain": []}
        with tempfile.TemporaryDirectory(prefix="hpopt-first-epoch-") as cwd:
            # Untimed warm-up of both: the OS file cache, __pycache__, the dataset file.
            hpopt_first_epoch(settings, cwd, env, -1)
            plain_first_epoch(plain_args, cwd, env)
            for i in range(runs):  # alternating, so both see the same machine
                samples["hpopt"].append(hpopt_first_epoch(settings, cwd, env, i))
                samples["plain"].append(plain_first_epoch(plain_args, cwd, env))
                print(f"  {dataset} run {i + 1}/{runs}: hpopt {samples['hpopt'][-1]['first_epoch_s']} s, "
                      f"plain {samples['plain'][-1]['first_epoch_s']} s", file=sys.stderr, flush=True)
        hpopt_values = [s["first_epoch_s"] for s in samples["hpopt"] if s["first_epoch_s"] is not None]
        plain_values = [s["first_epoch_s"] for s in samples["plain"]]
        hpopt, plain = _stats(hpopt_values), _stats(plain_values)
        ratio = round(hpopt["median_s"] / plain["median_s"], 3) if hpopt and plain else None
        results[dataset] = {
            "hpopt_command": "python src/optimizer.py " + " ".join(settings + HPOPT_ARGS),
            "plain_command": "python bench/plain_keras_startup.py " + " ".join(plain_args),
            "hpopt": hpopt, "plain": plain, "ratio": ratio,
            "pass": None if ratio is None else ratio <= PASS_RATIO,
            "plain_phases_median_s": {k: round(statistics.median(s["phases_s"][k] for s in samples["plain"]), 3)
                                      for k in samples["plain"][0]["phases_s"]},
            "hpopt_process_wall_median_s": round(statistics.median(s["process_wall_s"] for s in samples["hpopt"]), 3),
            "samples": samples,
        }
        if hpopt is None:
            results[dataset]["note"] = MISSING_KEY
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per case; the median is reported (default: 7 for --help and the config "
                             "error, 5 for launch to first epoch)")
    parser.add_argument("--no-first-epoch", action="store_true", help="only --help and the config error")
    parser.add_argument("--datasets", default="digits,mnist", help="for launch to first epoch (digits,mnist)")
    parser.add_argument("--mnist-dir", default=str(DEFAULT_MNIST_DIR),
                        help=f"folder holding mnist.npz ({DEFAULT_MNIST_DIR})")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "startup.json"))
    args = parser.parse_args()
    quick_runs = args.runs or 7
    epoch_runs = args.runs or 5
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    results = {}
    with tempfile.TemporaryDirectory(prefix="hpopt-startup-") as cwd:
        for argv, status in CASES.values():
            time_once(argv, status, cwd, env)  # warm the OS file cache and __pycache__
        times: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(quick_runs):  # interleaved, so both cases see the same machine
            for name, (argv, status) in CASES.items():
                times[name].append(time_once(argv, status, cwd, env))
    for name, values in times.items():
        results[name] = {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
                         "max_s": round(max(values), 3), "runs": len(values),
                         "command": "python src/optimizer.py " + " ".join(CASES[name][0]),
                         "samples_s": [round(v, 3) for v in values]}
    first_epoch = {}
    if not args.no_first_epoch:
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
        unknown = [d for d in datasets if d not in ("digits", "mnist")]
        if unknown:
            parser.error(f"--datasets: unknown {unknown}; choose from digits, mnist")
        first_epoch = measure_first_epoch(datasets, epoch_runs, Path(args.mnist_dir).expanduser().resolve(), env)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "startup", "cpus": os.cpu_count(), "results": results,
                               "first_epoch": first_epoch, "pass_ratio": PASS_RATIO}, indent=2) + "\n")
    print_tables(results, first_epoch, epoch_runs)
    print(f"\nwrote {out}")


def print_tables(results: dict, first_epoch: dict, epoch_runs: int) -> None:
    print("| command | median (s) | min–max (s) |\n|---|---|---|")
    for r in results.values():
        print(f"| `{r['command']}` | {r['median_s']:.2f} | {r['min_s']:.2f}–{r['max_s']:.2f} |")
    if first_epoch:
        print(f"\nLaunch to first epoch (median of {epoch_runs}; pass: hpopt <= {PASS_RATIO} x plain)\n")
        print("| dataset | plain Keras (s) | hpopt (s) | ratio | pass |\n|---|---|---|---|---|")
        for dataset, r in first_epoch.items():
            plain = f"{r['plain']['median_s']:.2f} ({r['plain']['min_s']:.2f}–{r['plain']['max_s']:.2f})"
            if r["hpopt"] is None:
                print(f"| {dataset} | {plain} | n/a | n/a | n/a |")
            else:
                hp = f"{r['hpopt']['median_s']:.2f} ({r['hpopt']['min_s']:.2f}–{r['hpopt']['max_s']:.2f})"
                print(f"| {dataset} | {plain} | {hp} | {r['ratio']:.2f} | {'yes' if r['pass'] else 'NO'} |")
        for dataset, r in first_epoch.items():
            if r["hpopt"] is None:
                print(f"{dataset}: {MISSING_KEY}")


if __name__ == "__main__":
    main()
