"""Search efficiency: hpopt at its defaults vs five peers, each launched as its own process.

    .venv/bin/python bench/search_efficiency.py                        # 6 tools x 3 seeds x 240 s (~80 min)
    .venv/bin/python bench/search_efficiency.py --budget 30 --seeds 1  # smoke run
    .venv/bin/python bench/search_efficiency.py --table bench/results/search_efficiency.json

A search is judged by how fast it finds a good model, so every tool gets the same
wall-clock budget per seed and the same train/validation split (hpopt's own split for the
seed), and is launched as an OS process whose clock starts at launch: each pays its own
interpreter start, TensorFlow import and data loading, as a user's script does. The tools
run one after another, interleaved per seed (the order rotates with the seed).

Tools (--tools):
- hpopt: ``src/optimizer.py dataset=mnist data_dir=... timeout_hours=budget/3600
  random_seed=S results_dir=TMP run_name=... trials=100000``, nothing else (the defaults
  are what is measured; no .env, no HYPEROPT_* variables). It ends itself at its deadline;
  the bench waits up to budget+90 s, then kills it. Its timeline is summary.json's
  ``best_over_time`` (seconds since its launch, moved onto the bench's clock with
  ``wall_time.launched_at_unix``).
- optuna_hpopt_space, kerastuner: bench/peers.py (plain Optuna loop / KerasTuner Hyperband
  on hpopt's space and model builder).
- optuna_small, optuna_hyperband: bench/peers_small.py (Optuna's Keras example with a small
  space and a plain CNN; no pruner, 3 epochs / HyperbandPruner, 9-epoch cap).
- autokeras: bench/autokeras_peer.py under .venv-autokeras (``make bench-autokeras-venv``);
  skipped, with the reason recorded, when that venv is missing.
Peers run bench/peer_process.py, which writes one flushed JSON line per epoch end; the bench
kills a peer's process group at launch+budget and counts only epochs that ended inside it.

Figures per run: time from launch until any epoch first reached 0.98 / 0.985 / 0.99
val_accuracy (--targets), and the best val_accuracy of any epoch that ended inside the
budget; medians over seeds per tool ("not reached" sorts last). Writes
bench/results/search_efficiency.json, prints markdown tables and the pass checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from search_report import markdown, pass_checks, summarize  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist-t10k"
TOOLS = ("hpopt", "optuna_hpopt_space", "kerastuner", "optuna_small", "optuna_hyperband", "autokeras")
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
AUTOKERAS_PYTHON = ROOT / ".venv-autokeras" / "bin" / "python"
HPOPT_GRACE_S = 90.0  # hpopt may take this long past the budget before it is killed


def child_env() -> dict[str, str]:
    """The environment a user's shell gives: no HYPEROPT_* settings, offline datasets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    env["HYPEROPT_OFFLINE"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def kill_group(proc: subprocess.Popen) -> None:
    """Kills the process group this bench started for the tool (the tool and its children)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def timeline_stats(points: list[tuple[float, float]], targets: list[float], budget: float) -> dict[str, Any]:
    """Time to each target and best val_accuracy, from (seconds since launch, val_accuracy) points."""
    inside = [(t, acc) for t, acc in sorted(points) if t <= budget]
    return {"time_to": {str(target): next((round(t, 2) for t, acc in inside if acc >= target), None)
                        for target in targets},
            "best_val_accuracy": max((acc for _, acc in inside), default=None), "epochs_in_budget": len(inside)}


def run_hpopt(seed: int, args: argparse.Namespace, workdir: Path, python: str) -> dict[str, Any]:
    """The CLI at its defaults, launched as a user does; timeline from its summary.json."""
    workdir.mkdir(parents=True)
    run_name = f"bench_seed{seed}"
    keys = {"dataset": args.dataset, **({"data_dir": args.data_dir} if args.data_dir else {}),
            "timeout_hours": repr(args.budget / 3600), "random_seed": str(seed),
            "results_dir": str(workdir / "results"), "run_name": run_name, "trials": "100000"}
    command = [python, str(ROOT / "src" / "optimizer.py"), *(f"{k}={v}" for k, v in keys.items())]
    with open(workdir / "output.log", "w") as log:
        launched = time.time()
        proc = subprocess.Popen(command, cwd=workdir, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=args.budget + HPOPT_GRACE_S)
            exit_s: Optional[float] = time.time() - launched
        except subprocess.TimeoutExpired:
            exit_s = None
        kill_group(proc)  # after a normal exit this only reaches leftover children, if any
    run: dict[str, Any] = {"command": " ".join(command[1:]), "returncode": proc.returncode,
                           "exit_s": None if exit_s is None else round(exit_s, 2),
                           "killed_after_s": None if exit_s is not None else args.budget + HPOPT_GRACE_S,
                           "deadline_held": exit_s is not None and exit_s <= args.budget + 10}
    points: list[tuple[float, float]] = []
    summary_path = workdir / "results" / run_name / "summary.json"
    if not summary_path.is_file():
        tail = (workdir / "output.log").read_text(errors="replace")[-1500:]
        run["note"] = f"hpopt: no summary.json (exit status {proc.returncode}); output tail: {tail}"
    else:
        summary = json.loads(summary_path.read_text())
        wall = summary.get("wall_time") or {}
        run["wall_time"] = wall or None
        run["trials_started"] = len(summary.get("trials") or [])
        if "best_over_time" not in summary or "launched_at_unix" not in wall:
            run["note"] = "hpopt: summary.json lacks best_over_time (older hpopt)"
        else:
            offset = float(wall["launched_at_unix"]) - launched  # hpopt's clock minus ours (milliseconds)
            run["clock_offset_s"] = round(offset, 4)  # event times are launched_at_unix + t_s: exact either way
            for p in summary["best_over_time"]:
                points.append((round(float(p["t_s"]) + offset, 3), float(p["val_accuracy"])))
            run["epochs"] = [[t, round(acc, 5), p["trial"], p["epoch"]]
                             for (t, acc), p in zip(points, summary["best_over_time"])]
    return {**run, **timeline_stats(points, args.targets, args.budget), "timeline": "best_over_time"}


def run_peer(tool: str, seed: int, args: argparse.Namespace, split: Path, workdir: Path) -> dict[str, Any]:
    """bench/peer_process.py for one peer; killed at launch+budget, epochs read from its JSON lines."""
    python = AUTOKERAS_PYTHON if tool == "autokeras" else Path(args.python)
    if tool == "autokeras" and not AUTOKERAS_PYTHON.is_file():
        reason = f"{AUTOKERAS_PYTHON.relative_to(ROOT)} missing: run `make bench-autokeras-venv` first"
        print(f"  seed {seed} autokeras: SKIPPED ({reason})", flush=True)
        return {"skipped": reason}
    workdir.mkdir(parents=True)
    out = workdir / "epochs.jsonl"
    with open(workdir / "output.log", "w") as log:
        launched = time.time()
        command = [str(python), str(ROOT / "bench" / "peer_process.py"), "--tool", tool, "--seed", str(seed),
                   "--data", str(split), "--out", str(out), "--launched-at", repr(launched),
                   "--budget", str(args.budget), "--optuna-epochs", str(args.optuna_epochs),
                   "--kt-max-epochs", str(args.kt_max_epochs), "--kt-factor", str(args.kt_factor),
                   "--ak-epochs", str(args.ak_epochs)]
        proc = subprocess.Popen(command, cwd=workdir, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=max(0.0, launched + args.budget - time.time()))
            ended_s: Optional[float] = time.time() - launched
        except subprocess.TimeoutExpired:
            ended_s = None
        kill_group(proc)
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.is_file() else []
    points = [(round(e["t"] - launched, 3), float(e["val_accuracy"])) for e in lines]
    run: dict[str, Any] = {"exit_s": None if ended_s is None else round(ended_s, 2),
                           "killed_at_budget": ended_s is None,
                           "trials_started": len({str(e["trial"]) for e, (t, _) in zip(lines, points)
                                                  if t <= args.budget}),
                           "epochs": [[t, round(acc, 5), e["trial"]] for e, (t, acc) in zip(lines, points)]}
    if ended_s is not None and proc.returncode != 0:
        tail = (workdir / "output.log").read_text(errors="replace")[-1500:]
        run["note"] = f"{tool} exited with status {proc.returncode} after {ended_s:.1f} s; output tail: {tail}"
    return {**run, **timeline_stats(points, args.targets, args.budget), "timeline": "every epoch"}


def write_split(seed: int, args: argparse.Namespace, path: Path) -> dict[str, int]:
    """hpopt's split for the seed (what ``optimizer.py ... random_seed=seed`` trains on), as an .npz."""
    import numpy as np

    from hpopt.datasets import load_dataset

    data = load_dataset(args.dataset, data_dir=args.data_dir, seed=seed)
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_val=data.x_val, y_val=data.y_val,
             num_classes=np.int64(data.num_classes))
    return {"train": len(data.y_train), "val": len(data.y_val)}


def machine() -> dict[str, Any]:
    """Versions read from package metadata: the parent never imports TensorFlow."""
    def version(name: str) -> Optional[str]:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            **{name: version(name) for name in ("tensorflow-cpu", "tensorflow", "keras", "optuna",
                                                 "optuna-integration", "keras-tuner")},
            "autokeras_venv": AUTOKERAS_PYTHON.is_file()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--budget", type=float, default=240.0, help="wall-clock seconds per tool and seed (240)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (3)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are first-seed, first-seed+1, ... (1)")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.98, 0.985, 0.99],
                        help="val_accuracy targets timed from launch (0.98 0.985 0.99)")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--optuna-epochs", type=int, default=5, help="optuna_hpopt_space: epochs per trial (5)")
    parser.add_argument("--kt-max-epochs", type=int, default=20,
                        help="KerasTuner Hyperband max_epochs (20 = hpopt's default max_epochs_per_trial)")
    parser.add_argument("--kt-factor", type=int, default=3, help="KerasTuner Hyperband factor (3, its default)")
    parser.add_argument("--ak-epochs", type=int, default=10, help="AutoKeras fit epochs (10, as in its guide)")
    parser.add_argument("--data-dir", default=str(SHARED_MNIST), help="folder with mnist.npz (../shared/...)")
    parser.add_argument("--python", default=str(MAIN_PYTHON if MAIN_PYTHON.is_file() else sys.executable),
                        help="interpreter for hpopt and the peers other than autokeras (.venv's)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "search_efficiency.json"))
    parser.add_argument("--table", metavar="JSON", help="reprint the tables of a saved run and exit")
    args = parser.parse_args()
    if args.table:
        return args
    args.dataset = "mnist"
    if not (Path(args.data_dir) / "mnist.npz").is_file():
        print(f"NOTE: {Path(args.data_dir) / 'mnist.npz'} not found (it ships in ../shared/datasets/mnist-t10k); "
              "falling back to the bundled 'digits' dataset: these figures are NOT comparable with the README's.",
              file=sys.stderr)
        args.dataset, args.data_dir = "digits", None
    return args


def main() -> int:
    args = parse_args()
    if args.table:
        saved = json.loads(Path(args.table).read_text())
        saved["summary"] = summarize(saved["runs"], saved["settings"]["targets"])  # today's rules on saved runs
        saved["checks"] = pass_checks(saved)
        print(markdown(saved))
        return 0
    seeds = [args.first_seed + i for i in range(args.seeds)]
    print(f"search efficiency: {args.tools} x seeds {seeds}, {args.budget:.0f} s each "
          f"(about {len(args.tools) * len(seeds) * (args.budget + 15) / 60:.0f} min)", flush=True)
    runs: list[dict[str, Any]] = []
    split_sizes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hpopt-bench-") as tmp:
        for i, seed in enumerate(seeds):
            split = Path(tmp) / f"split_seed{seed}.npz"
            split_sizes[str(seed)] = write_split(seed, args, split)
            order = args.tools[i % len(args.tools):] + args.tools[:i % len(args.tools)]
            for tool in order:
                workdir = Path(tmp) / f"{tool}_{seed}"
                if tool == "hpopt":
                    run = run_hpopt(seed, args, workdir, args.python)
                else:
                    run = run_peer(tool, seed, args, split, workdir)
                run = {"tool": tool, "seed": seed, **run}
                runs.append(run)
                if "skipped" in run:
                    continue
                times = ", ".join(f"{k}: {'-' if v is None else f'{v:.1f} s'}" for k, v in run["time_to"].items())
                best = run["best_val_accuracy"]
                ended = "killed at the budget" if run["exit_s"] is None else f"exit {run['exit_s']:.1f} s"
                print(f"  seed {seed} {tool:18s} time to {times}; best {'-' if best is None else f'{best:.4f}'}, "
                      f"{run['epochs_in_budget']} points, {ended}", flush=True)
                if run.get("note"):
                    print(f"    NOTE {run['note']}", flush=True)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "table")}
    fixed = {"optuna_small_epochs_per_trial": 3, "optuna_hyperband_max_epochs": 9,
             "optuna_hyperband_pruner": "HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)",
             "autokeras_max_trials": 10000, "hpopt_kill_after_s": args.budget + HPOPT_GRACE_S}  # peer_process defaults
    result = {"benchmark": "search_efficiency", "settings": settings, "peer_settings": fixed, "seeds": seeds,
              "split_sizes": split_sizes,
              "machine": machine(),
              "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
              "runs": runs}
    result["summary"] = summarize(runs, args.targets)
    result["checks"] = pass_checks(result)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(markdown(result))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
