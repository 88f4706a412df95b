"""Search efficiency: hpopt at its defaults vs a plain Optuna loop vs KerasTuner Hyperband.

    .venv/bin/python bench/search_efficiency.py                        # 3 seeds x 240 s per tool (~40 min)
    .venv/bin/python bench/search_efficiency.py --budget 30 --seeds 1  # smoke run

A search is judged by how fast it finds a good model, so each tool gets the same
wall-clock budget, the same search space (hpopt.search_space.suggest_cnn's ranges), the
same model builder (hpopt.models.build_model) and the same train/validation split per
seed, and we record every epoch's val_accuracy with its time since the tool started
(data loading included). Figures: time until any epoch first reached --target, and the
best val_accuracy of any epoch that ended inside the budget. The tools run in one
process, interleaved per seed (the order rotates with the seed), so they share the
machine's conditions; a warm-up fit first keeps TensorFlow's one-off start-up cost out of
whichever tool runs first.

How each tool is stopped at the budget:
- hpopt: ``timeout_hours=budget/3600`` stops new trials; the bench's RunListener raises
  optuna.TrialPruned at the first epoch end (or trial start) after the budget, so the
  running trial ends as pruned. Writing the results folder afterwards is not timed.
- plain Optuna: ``study.optimize(timeout=remaining)``; a Keras callback sets
  ``model.stop_training`` at the first batch after the budget.
- KerasTuner: its oracle answers STOPPED after the budget, and the same callback ends the
  running fit.

Writes bench/results/search_efficiency.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HYPEROPT_OFFLINE", "1")

from hpopt.events import RunListener  # noqa: E402  (light: no TensorFlow, so --help answers at once)
from hpopt.spec import EpochRecord  # noqa: E402
from peers_clock import EpochLog, median_or_none  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist-t10k"
TOOLS = ("hpopt", "optuna", "kerastuner")


class BudgetListener(RunListener):
    """Times hpopt's epochs and ends its run at the budget (see the module docstring)."""

    def __init__(self, log: EpochLog) -> None:
        self.log = log

    def on_trial_started(self, number: int, params: dict[str, Any]) -> None:
        import optuna

        if self.log.expired():
            raise optuna.TrialPruned("benchmark budget spent")
        self.log.trial_started(number)

    def on_epoch(self, number: int, record: EpochRecord) -> None:
        import optuna

        self.log.epoch(number, record.val_accuracy)
        if self.log.expired():
            raise optuna.TrialPruned("benchmark budget spent")


def run_hpopt(dataset: str, data_dir: Optional[str], seed: int, log: EpochLog, workdir: Path) -> dict[str, Any]:
    """hpopt at its defaults; only what a benchmark must set is set (no .env, no HYPEROPT_* vars)."""
    from hpopt.config import load_config
    from hpopt.runner import NoCompleteTrialsError, run_optimization

    args = {"dataset": dataset, "trials": 100000, "timeout_hours": log.budget_s / 3600, "random_seed": seed,
            "results_dir": str(workdir / "hpopt"), "run_name": f"bench_seed{seed}", "plot_generation": "none"}
    if data_dir:
        args["data_dir"] = data_dir
    config = load_config(args, environ={}, env_file=None)
    try:
        run_optimization(config, BudgetListener(log))
    except NoCompleteTrialsError:
        pass  # a tiny budget can end every trial early; the epochs seen are what counts
    return {"config": {k: v for k, v in config.to_dict().items() if k in
                       ("min_epochs_per_trial", "max_epochs_per_trial", "pruner", "n_startup_trials",
                        "n_warmup_steps", "warm_start", "early_stopping_patience", "sampler")}}


def warm_up(dataset: str, data_dir: Optional[str]) -> None:
    """One short fit so TensorFlow's first-use costs land on no tool."""
    import keras

    from hpopt.datasets import load_dataset
    from hpopt.models import build_model
    from hpopt.search_space import baseline_architecture
    from hpopt.spec import DataShape, TrialSpec

    data = load_dataset(dataset, data_dir=data_dir)
    shape = DataShape(modality="image", input_shape=tuple(data.input_shape), num_classes=data.num_classes)
    model = build_model(TrialSpec(architecture=baseline_architecture(shape), data=shape, epochs=1, seed=0))
    model.fit(data.x_train[:512], data.y_train[:512], validation_data=(data.x_val[:256], data.y_val[:256]),
              epochs=1, batch_size=64, verbose=0)
    keras.backend.clear_session()


def run_one(tool: str, seed: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import keras

    from hpopt.datasets import load_dataset
    from peers import run_keras_tuner, run_plain_optuna

    log = EpochLog(budget_s=args.budget)  # the clock starts here: data loading counts
    if tool == "hpopt":
        extra = run_hpopt(args.dataset, args.data_dir, seed, log, workdir)
    else:
        data = load_dataset(args.dataset, data_dir=args.data_dir, seed=seed)  # hpopt's split for this seed
        if tool == "optuna":
            extra = run_plain_optuna(data, seed, log, epochs=args.optuna_epochs)
        else:
            extra = run_keras_tuner(data, seed, log, workdir / "kerastuner", max_epochs=args.kt_max_epochs,
                                    factor=args.kt_factor)
    wall = log.elapsed()
    keras.backend.clear_session()
    return {"tool": tool, "seed": seed, "time_to_target_s": log.time_to(args.target),
            "best_val_accuracy": log.best(), "epochs_in_budget": len(log.epochs),
            "trials_started": len(log.trials), "wall_s": round(wall, 1), **extra,
            "epochs": [[t, round(acc, 5), str(trial)] for t, acc, trial in log.epochs]}


def summarize(runs: list[dict[str, Any]], budget: float) -> dict[str, Any]:
    """Medians over seeds per tool, and hpopt's ratios against the faster peer."""
    per_tool: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        mine = [r for r in runs if r["tool"] == tool]
        if mine:
            per_tool[tool] = {
                "median_time_to_target_s": median_or_none([r["time_to_target_s"] for r in mine]),
                "median_best_val_accuracy": median_or_none([r["best_val_accuracy"] for r in mine]),
                "reached": sum(r["time_to_target_s"] is not None for r in mine), "runs": len(mine)}
    summary: dict[str, Any] = {"per_tool": per_tool}
    peers = [t for t in ("optuna", "kerastuner") if t in per_tool]
    if "hpopt" not in per_tool or not peers:
        return summary
    hp_t = per_tool["hpopt"]["median_time_to_target_s"]
    peer_times = {t: per_tool[t]["median_time_to_target_s"] for t in peers}
    reached = {t: v for t, v in peer_times.items() if v is not None}
    faster = min(reached, key=reached.get) if reached else peers[0]
    peer_t = reached.get(faster)
    if hp_t is None:
        speedup, note = None, "hpopt did not reach the target (median)"
    elif peer_t is None:
        speedup, note = budget / hp_t, "no peer reached the target: ratio is a lower bound (budget / hpopt's time)"
    else:
        speedup, note = peer_t / hp_t, f"{faster}'s median time / hpopt's"
    hp_best = per_tool["hpopt"]["median_best_val_accuracy"]
    best_peer_acc = max((per_tool[t]["median_best_val_accuracy"] or 0.0) for t in peers)
    by_seed = {}
    for r in runs:
        by_seed.setdefault(r["seed"], {})[r["tool"]] = r["best_val_accuracy"] or 0.0
    seeds_not_lower = sum(all(s.get("hpopt", 0.0) >= s.get(t, 0.0) for t in peers) for s in by_seed.values())
    summary.update({
        "faster_peer": faster,
        "time_to_target_speedup": None if speedup is None else round(speedup, 2),
        "speedup_note": note,
        "speedup_at_least_2x": speedup is not None and speedup >= 2.0,
        "best_accuracy_margin_vs_best_peer": None if hp_best is None else round(hp_best - best_peer_acc, 4),
        "best_accuracy_not_lower": hp_best is not None and hp_best >= best_peer_acc,
        "seeds_where_hpopt_best_not_lower": f"{seeds_not_lower}/{len(by_seed)}",
    })
    return summary


def _fmt_t(value: Optional[float]) -> str:
    return "not reached" if value is None else f"{value:.1f}"


def _fmt_acc(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(result: dict[str, Any]) -> str:
    args = result["settings"]
    lines = [f"target val_accuracy {args['target']}, budget {args['budget']:.0f} s per tool and seed, "
             f"dataset {args['dataset']}", "",
             "| tool | seed | time to target (s) | best val_accuracy | epochs | trials |", "|---|---|---|---|---|---|"]
    for r in result["runs"]:
        lines.append(f"| {r['tool']} | {r['seed']} | {_fmt_t(r['time_to_target_s'])} | "
                     f"{_fmt_acc(r['best_val_accuracy'])} | {r['epochs_in_budget']} | {r['trials_started']} |")
    lines += ["", "| tool | median time to target (s) | reached | median best val_accuracy |", "|---|---|---|---|"]
    for tool, s in result["summary"]["per_tool"].items():
        lines.append(f"| {tool} | {_fmt_t(s['median_time_to_target_s'])} | {s['reached']}/{s['runs']} | "
                     f"{_fmt_acc(s['median_best_val_accuracy'])} |")
    s = result["summary"]
    if "faster_peer" in s:
        speedup = "-" if s["time_to_target_speedup"] is None else f"{s['time_to_target_speedup']}x"
        margin = s["best_accuracy_margin_vs_best_peer"]
        lines += ["", f"time-to-target speed-up vs {s['faster_peer']}: {speedup} ({s['speedup_note']})",
                  f"median best val_accuracy, hpopt minus the best peer: {'-' if margin is None else f'{margin:+.4f}'}; "
                  f"seeds where hpopt's best >= both peers': {s['seeds_where_hpopt_best_not_lower']}"]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--budget", type=float, default=240.0, help="wall-clock seconds per tool and seed (240)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (3)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are first-seed, first-seed+1, ... (1)")
    parser.add_argument("--target", type=float, default=0.98,
                        help="val_accuracy target (0.98: the warm-start baseline reaches it in a few epochs of a "
                             "good run, a typical random CNN of the space does not within a 5-epoch trial)")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--optuna-epochs", type=int, default=5, help="plain Optuna loop: fixed epochs per trial (5)")
    parser.add_argument("--kt-max-epochs", type=int, default=20,
                        help="KerasTuner Hyperband max_epochs (20 = hpopt's default max_epochs_per_trial)")
    parser.add_argument("--kt-factor", type=int, default=3, help="KerasTuner Hyperband factor (3, its default)")
    parser.add_argument("--data-dir", default=str(SHARED_MNIST), help="folder with mnist.npz (../shared/...)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "search_efficiency.json"))
    args = parser.parse_args()
    args.dataset = "mnist"
    if not (Path(args.data_dir) / "mnist.npz").is_file():
        print(f"NOTE: {Path(args.data_dir) / 'mnist.npz'} not found (it ships in ../shared/datasets/mnist-t10k); "
              "falling back to the bundled 'digits' dataset: these figures are NOT comparable with the README's.",
              file=sys.stderr)
        args.dataset, args.data_dir = "digits", None
    return args


def main() -> None:
    args = parse_args()
    seeds = [args.first_seed + i for i in range(args.seeds)]
    print(f"search efficiency: {args.tools} x seeds {seeds}, {args.budget:.0f} s each "
          f"(about {len(args.tools) * len(seeds) * (args.budget + 20) / 60:.0f} min)", flush=True)
    warm_up(args.dataset, args.data_dir)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hpopt-bench-") as tmp:
        for i, seed in enumerate(seeds):
            order = args.tools[i % len(args.tools):] + args.tools[:i % len(args.tools)]
            for tool in order:
                started = time.perf_counter()
                run = run_one(tool, seed, args, Path(tmp) / f"{tool}_{seed}")
                runs.append(run)
                print(f"  seed {seed} {tool:10s}: time to {args.target} = {_fmt_t(run['time_to_target_s'])} s, "
                      f"best {_fmt_acc(run['best_val_accuracy'])}, {run['epochs_in_budget']} epochs, "
                      f"{run['trials_started']} trials (ran {time.perf_counter() - started:.0f} s)", flush=True)
    import keras
    import optuna
    import tensorflow as tf

    settings = {k: v for k, v in vars(args).items() if k != "out"}
    result = {"benchmark": "search_efficiency", "settings": settings, "seeds": seeds,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpus": len(tf.config.list_physical_devices("GPU")),
                          "python": platform.python_version(), "keras": keras.__version__,
                          "optuna": optuna.__version__},
              "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
              "runs": runs, "summary": summarize(runs, args.budget)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(markdown(result))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
