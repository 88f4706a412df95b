"""Study plots (history, importances, intermediate values, health vs accuracy, Pareto front)
and the orchestration of per-trial plots. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from hpopt import trial_plots  # noqa: E402
from hpopt.layout import RunLayout  # noqa: E402

logger = logging.getLogger(__name__)

STATE_COLORS = {"complete": "tab:blue", "pruned": "tab:orange", "no_learning": "tab:gray", "failed": "tab:red"}


def _save(fig: plt.Figure, path: Path) -> Path:
    return trial_plots.save_figure(fig, path, dpi=110)


def plot_history(summary: dict[str, Any], path: Path) -> Optional[Path]:
    """Objective value per trial with the running best: is the search still improving?"""
    rows = [t for t in summary["trials"] if t["state"] == "complete" and isinstance(t["value"], (int, float))]
    if not rows:
        return None
    maximize = summary["directions"][0] == "maximize"
    fig, ax = plt.subplots(figsize=(7, 4))
    numbers = [t["number"] for t in rows]
    values = [t["value"] for t in rows]
    running, best = [], None
    for value in values:
        best = value if best is None else (max(best, value) if maximize else min(best, value))
        running.append(best)
    ax.scatter(numbers, values, label="trial value", color="tab:blue", zorder=3)
    ax.step(numbers, running, where="post", color="tab:green", label="running best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"objective ({summary['mode']}: {summary['optimize_for']})")
    ax.set_title("Optimization history")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_best_over_time(summary: dict[str, Any], path: Path) -> Optional[Path]:
    """The time-to-target curve: the run's best value against seconds since launch, one step per
    epoch that beat it (best_so_far.py), so "when was it good enough" can be read off."""
    points = summary.get("best_over_time") or []
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    times = [p["t_s"] for p in points]
    values = [p["value"] for p in points]
    end = (summary.get("wall_time") or {}).get("search_s") or times[-1]
    ax.step([*times, max(end, times[-1])], [*values, values[-1]], where="post", color="tab:green")
    ax.scatter(times, values, color="tab:green", zorder=3, s=14)
    for point in points[-3:]:
        ax.annotate(f"trial {point['trial']} ep {point['epoch']}", (point["t_s"], point["value"]),
                    textcoords="offset points", xytext=(4, -12), fontsize=7)
    timeout = (summary.get("wall_time") or {}).get("timeout_s")
    if timeout:
        ax.axvline(timeout, color="tab:red", linestyle="--", linewidth=1, label=f"timeout ({timeout:.0f} s)")
        ax.legend(loc="lower right")
    ax.set_xlabel("seconds since launch")
    ax.set_ylabel(f"best so far ({summary['mode']}: {summary['optimize_for']})")
    ax.set_title("Best model over time")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_importances(study: optuna.Study, path: Path) -> Optional[Path]:
    """Which hyperparameters mattered most for the objective (Optuna's default evaluator)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 3 or len(study.directions) > 1:
        return None
    try:
        importances = optuna.importance.get_param_importances(study)
    except Exception as error:  # too few distinct values, a single parameter, ...
        logger.info("parameter importances not computed: %s", error)
        return None
    if not importances:
        return None
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.35 * len(names))))
    ax.barh(names, [importances[n] for n in names], color="tab:purple")
    ax.set_xlabel("importance")
    ax.set_title("Hyperparameter importances")
    return _save(fig, path)


def plot_intermediate(summary: dict[str, Any], path: Path) -> Optional[Path]:
    """Validation accuracy per epoch of every trial; pruned trials stop early."""
    rows = [t for t in summary["trials"] if t.get("history")]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for row in rows:
        epochs = [h["epoch"] for h in row["history"]]
        accuracy = [h["val_accuracy"] for h in row["history"]]
        ax.plot(epochs, accuracy, marker="o", markersize=3, alpha=0.8,
                color=STATE_COLORS.get(row["state"], "gray"))
    for state, color in STATE_COLORS.items():
        ax.plot([], [], color=color, label=state)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Intermediate values (pruning acts on these)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_health_vs_accuracy(summary: dict[str, Any], path: Path, title: str = "Health vs accuracy") -> Optional[Path]:
    """Accuracy against overall health for every trial; the Pareto front when there is one."""
    rows = [t for t in summary["trials"] if t.get("val_accuracy") is not None
            and (t.get("health") or {}).get("overall_health") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6, 5))
    for state, color in STATE_COLORS.items():
        chosen = [r for r in rows if r["state"] == state]
        ax.scatter([r["health"]["overall_health"] for r in chosen], [r["val_accuracy"] for r in chosen],
                   color=color, label=state, alpha=0.8)
    front = summary.get("pareto_front")
    if front:
        points = sorted((p["overall_health"], p["val_accuracy"]) for p in front)
        ax.plot([p[0] for p in points], [p[1] for p in points], color="black", marker="D", label="Pareto front")
    best = summary.get("best_trial")
    if best and best.get("health", {}).get("overall_health") is not None:
        ax.scatter([best["health"]["overall_health"]], [best["val_accuracy"]], s=180, facecolors="none",
                   edgecolors="green", linewidths=2, label=f"best (trial {best['number']})")
    ax.set_xlabel("overall health")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def write_plots(run_dir: Path, study: optuna.Study, summary: dict[str, Any], generation: str,
                evaluation: Optional[dict[str, Any]], dataset: Any,
                deadline: Optional[float] = None) -> dict[str, Any]:
    """All plots for the run; returns {"study": {name: path}, "trials": {n: {name: path}},
    "skipped_trials": [n, ...]}.

    With a ``deadline`` (unix time: the run's timeout less a margin) no plot starts once it has
    passed, the study's and the best trial's included: the study plots come first, then the best
    trial's, then the others'. What was not drawn is listed ("skipped_study", "skipped_trials")."""
    if generation == "none":
        return {"study": {}, "trials": {}, "skipped_study": [], "skipped_trials": []}

    def out_of_time() -> bool:
        return deadline is not None and time.time() >= deadline

    plots_dir = RunLayout(run_dir).plots_dir
    study_plots: dict[str, Path] = {}
    skipped_study: list[str] = []
    for name, make in (
        ("optimization_history", lambda p: plot_history(summary, p)),
        ("best_over_time", lambda p: plot_best_over_time(summary, p)),
        ("param_importances", lambda p: plot_importances(study, p)),
        ("intermediate_values", lambda p: plot_intermediate(summary, p)),
        ("health_vs_accuracy", lambda p: plot_health_vs_accuracy(summary, p)),
        ("pareto_front", lambda p: plot_health_vs_accuracy(summary, p, "Pareto front: accuracy vs health")
         if summary.get("pareto_front") else None),
    ):
        if out_of_time():
            skipped_study.append(name)
            continue
        try:
            path = make(plots_dir / f"{name}.png")
        except Exception:  # a plot must never lose the results
            logger.exception("plot %s failed", name)
            path = None
        if path:
            study_plots[name] = path
    best = summary.get("best_trial")
    best_number = best["number"] if best else None
    numbers = [best_number] if best_number is not None else []
    if generation == "all":
        numbers += [t["number"] for t in summary["trials"] if t["number"] != best_number]
    per_trial: dict[int, Any] = {}
    skipped: list[int] = []
    for number in numbers:
        if out_of_time():
            skipped.append(number)
            continue
        try:
            per_trial[number] = trial_plots.write_trial_plots(
                run_dir, number, evaluation if number == best_number else None, dataset)
        except Exception:
            logger.exception("plots of trial %s failed", number)
    if skipped or skipped_study:
        logger.warning("the run's timeout: %d study plots and the plots of %d trials not drawn (%s)",
                       len(skipped_study), len(skipped),
                       ", ".join(skipped_study + [f"trial {n}" for n in skipped[:10]])
                       + (" ..." if len(skipped) > 10 else ""))
    return {"study": study_plots, "trials": per_trial, "skipped_study": skipped_study, "skipped_trials": skipped}
