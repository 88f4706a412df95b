"""report.md: the page a person reads first (best result, trials table, plots with a line each)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from hpopt.cost_summary import cost_lines
from hpopt.layout import RunLayout

PLOT_READINGS = {
    "optimization_history": "Each dot is a trial; the line is the best value so far. A flat line at the end means "
                            "more trials would likely not help.",
    "best_over_time": "The run's best value against seconds since launch: each step is an epoch that beat it (its "
                      "model became best_model.keras at that moment).",
    "param_importances": "How much each hyperparameter explained the objective; tune the top ones first.",
    "intermediate_values": "Validation accuracy per epoch; orange lines are trials the pruner stopped early.",
    "health_vs_accuracy": "Top right is best: accurate and healthy. A model high but far left is accurate yet "
                          "unhealthy.",
    "pareto_front": "Black diamonds are the trials no other trial beats on both accuracy and health; pick along it.",
    "training_curves": "Train vs validation; a red dashed line marks where validation loss started to rise "
                       "(overfitting).",
    "gradient_flow": "Gradient norm per layer; values near 1e-7 mean vanishing gradients, above 1e3 exploding.",
    "weight_distributions": "Weights should stay centred and spread; a spike at zero or huge tails signal trouble.",
    "dead_neurons": "Share of units whose output never varies; red bars (over half dead) waste capacity.",
    "confusion_matrix": "Rows are true classes, columns predictions; off-diagonal cells are the mistakes.",
    "activation_maps": "What the first conv layer's filters respond to in a few test images.",
}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v, digits) for v in value)
    return str(value)


def _image(run_dir: Path, name: str, path: Path) -> list[str]:
    return [f"![{name}]({path.relative_to(run_dir).as_posix()})", "", f"*{PLOT_READINGS.get(name, '')}*", ""]


def _timing_lines(summary: dict[str, Any]) -> list[str]:
    """Wall time against the timeout: the search, then the finishing work (test, plots, report)."""
    wall = summary.get("wall_time")
    if not wall:
        return []
    text = (f"Wall time {wall['total_s']:.1f} s from launch: search {wall['search_s']:.1f} s, then "
            f"{wall['finalize_s']:.1f} s for the test evaluation, summary and plots")
    if wall.get("timeout_s"):
        met = "within" if wall.get("deadline_met") else "**past**"
        text += f"; {met} the timeout of {wall['timeout_s']:.0f} s"
    stopped = [t["number"] for t in summary["trials"] if t.get("stop_reason") == "deadline"]
    if stopped:
        text += f"; trial {stopped[0]} was stopped at the deadline and kept its best epoch"
    skipped = wall.get("plots_skipped_for_timeout") or []
    if skipped:
        text += f"; plots of {len(skipped)} trials were not drawn for lack of time"
    skipped_study = wall.get("study_plots_skipped_for_timeout") or []
    if skipped_study:
        text += f"; study plots not drawn for lack of time: {', '.join(skipped_study)}"
    return [text + ".", ""]


PLACE_NAMES = {"local": "local", "gpu_proxy": "GPU proxy"}
REPORTED_WARNINGS = 20


def _execution_lines(summary: dict[str, Any]) -> list[str]:
    """Where the trials trained and how fast (summary.json's ``execution``)."""
    places = (summary.get("execution") or {}).get("places") or {}
    if not places:
        return []
    lines = ["## Where trials ran", "", "| where | trials | training s | epochs | s / epoch | µs / sample |",
             "|---|---|---|---|---|---|"]
    for place, row in places.items():
        per_sample = row.get("seconds_per_sample")
        lines.append(f"| {PLACE_NAMES.get(place, place)} | {row['trials']} | {row['train_seconds']:.1f} | "
                     f"{row['epochs']} | {_fmt(row.get('seconds_per_epoch'), 3)} | "
                     f"{_fmt(None if per_sample is None else per_sample * 1e6, 1)} |")
    lines.append("")
    speedup = summary["execution"].get("speedup")
    if speedup:
        lines += [f"The GPU proxy trained {speedup['per_epoch']:.2f}x as fast as this machine per epoch, "
                  f"{speedup['per_sample']:.2f}x per training sample (means over different trials; training "
                  "time only, not uploads or queueing).", ""]
    return lines


def _warning_lines(summary: dict[str, Any]) -> list[str]:
    """The run's warnings, the first few in full (summary.json lists them all)."""
    warnings = summary.get("warnings") or []
    dropped = summary.get("warnings_dropped") or 0
    if not warnings:
        return []
    lines = ["## Warnings", ""]
    lines += [f"- {w.get('time', '')} `{w.get('logger', '')}`: "  # one line each; <...> shown, not read as HTML
              + html.escape(" ".join(str(w.get("message", "")).split()), quote=False)
              for w in warnings[:REPORTED_WARNINGS]]
    more = max(0, len(warnings) - REPORTED_WARNINGS) + dropped
    if more > 0:
        lines.append(f"- ... and {more} more (summary.json lists the first {len(warnings)}; the log has all)")
    return lines + [""]


def _export_lines(summary: dict[str, Any]) -> list[str]:
    """export=: where each format is and how closely it reproduces the Keras model."""
    exported = summary.get("export") or {}
    if not exported:
        return []
    lines = ["## Exported model", "", "| format | path | max abs diff vs Keras | MB | seconds |",
             "|---|---|---|---|---|"]
    for fmt, item in exported.items():
        if "error" in item:
            lines.append(f"| {fmt} | failed: {item['error']} | | | |")
        else:
            lines.append(f"| {fmt} | `{item['path']}` | {item['max_abs_diff']:.2e} | "
                         f"{item.get('bytes', 0) / 1e6:.2f} | {item.get('seconds', 0):.1f} |")
    return lines + ["", "Predict with any of them: `python src/optimizer.py predict run=<this folder> "
                    "input=<files> model=<format>`.", ""]


def _per_class_lines(best: dict[str, Any]) -> list[str]:
    """The best model's per-class results on the test split, worst F1 first (ties: fewer samples first)."""
    rows = best.get("per_class") or []
    if not rows:
        return []
    lines = ["## Per-class results (test split)", "",
             f"Macro-F1 {_fmt(best.get('macro_f1'))}, balanced accuracy {_fmt(best.get('balanced_accuracy'))} "
             "(every class counted alike); worst classes first.", "",
             "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["f1"], r["support"])):
        name = html.escape(str(row["class"]), quote=False).replace("|", "\\|")
        lines.append(f"| {name} | {_fmt(row['precision'], 3)} | {_fmt(row['recall'], 3)} | {_fmt(row['f1'], 3)} | "
                     f"{row['support']} |")
    return lines + [""]


def write_report(run_dir: Path, summary: dict[str, Any], plots: dict[str, Any]) -> Path:
    lines = [f"# Optimization report: {summary['run_name']}", ""]
    lines += [
        f"Dataset **{summary['dataset']}** ({summary['data'].get('modality')}, "
        f"{summary['data'].get('n_train')} train / {summary['data'].get('n_val')} validation / "
        f"{summary['data'].get('n_test')} test samples), mode **{summary['mode']}**, "
        f"objective **{summary['optimize_for']}**.",
        "",
        f"{summary['n_trials']} trials: {summary['n_complete']} complete, {summary['n_pruned']} pruned, "
        f"{summary.get('n_no_learning', 0)} stopped at chance level (no learning), {summary['n_failed']} failed, "
        f"{summary.get('n_stopped', 0)} stopped by a stop request (not counted), "
        f"in {summary['wall_s']:.0f} s.",
        "",
        *([f"Stopped early: {summary['stopped_reason']}.", ""] if summary.get("stopped_reason") else []),
        *_timing_lines(summary),
        *_warning_lines(summary),
        "## Best result",
        "",
    ]
    best = summary.get("best_trial")
    if best:
        lines += [
            f"Trial **{best['number']}**: value {_fmt(best['value'])}, validation accuracy "
            f"{_fmt(best['val_accuracy'])}, test accuracy {_fmt(summary.get('test_accuracy'))}, "
            f"overall health {_fmt((best.get('health') or {}).get('overall_health'))}, "
            f"{best.get('param_count')} parameters, {best.get('epochs_run')} epochs.",
            "",
            "| hyperparameter | value |", "|---|---|",
            *[f"| {k} | {_fmt(v, 6)} |" for k, v in best["params"].items()],
            "",
            "The model is `best_model.keras` (`keras.saving.load_model`), its hyperparameters "
            "`best_hyperparameters.yaml`.",
            "",
            *_per_class_lines(best),
        ]
    else:
        lines += ["No trial completed.", ""]
    if summary.get("pareto_front"):
        lines += ["## Pareto front (val_accuracy vs overall_health)", "", "| trial | val_accuracy | overall_health |",
                  "|---|---|---|"]
        lines += [f"| {p['number']} | {_fmt(p['val_accuracy'])} | {_fmt(p['overall_health'])} |"
                  for p in summary["pareto_front"]]
        lines.append("")
    lines += ["## Trials", "", "| # | state | value | val_accuracy | health | epochs | seconds | where |",
              "|---|---|---|---|---|---|---|---|"]
    for t in summary["trials"]:
        lines.append(
            f"| {t['number']} | {t['state']} | {_fmt(t['value'])} | {_fmt(t['val_accuracy'])} | "
            f"{_fmt((t.get('health') or {}).get('overall_health'), 3)} | {t['epochs_run']} | "
            f"{_fmt(t['duration_s'], 1)} | {t['execution']} |")
    lines.append("")
    lines += _execution_lines(summary)
    lines += cost_lines(summary)
    lines += _export_lines(summary)
    if plots.get("study"):
        lines += ["## Study plots", ""]
        for name, path in plots["study"].items():
            lines += [f"### {name.replace('_', ' ').capitalize()}", ""] + _image(run_dir, name, path)
    best_number = best["number"] if best else None
    if best_number in plots.get("trials", {}):
        lines += [f"## Best trial ({best_number}) in detail", ""]
        for name, path in plots["trials"][best_number].items():
            lines += [f"### {name.replace('_', ' ').capitalize()}", ""] + _image(run_dir, name, path)
    others = [n for n in plots.get("trials", {}) if n != best_number]
    if others:
        lines += ["## Other trials", ""]
        lines += [f"- trial {n}: " + ", ".join(f"[{name}]({path.relative_to(run_dir).as_posix()})"
                                                 for name, path in plots["trials"][n].items()) for n in others]
        lines.append("")
    path = RunLayout(run_dir).report
    path.write_text("\n".join(lines))
    return path
