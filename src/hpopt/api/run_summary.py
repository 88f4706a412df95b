"""A finished run at a glance, for the dashboard's summary card.

Everything comes from summary.json (the truth once the job ended): the best trial with its
test metrics, the counts by state, the wall time, the warm-start baseline and which trials
sat at chance level (their health scores mean little: a model that learned nothing can
still have well-behaved weights and gradients).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from hpopt.chance import chance_ceiling
from hpopt.jobs.store import JobRecord
from hpopt.layout import RunLayout

__all__ = ["run_summary"]


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _baseline(rows: list[dict[str, Any]], config: dict[str, Any]) -> Optional[int]:
    """The warm-start trial: rows mark it; summaries written before rows did fall back to
    trial 0 of a warm-started study (the baseline is enqueued before any other trial)."""
    if any("warm_start" in r for r in rows):
        return next((r["number"] for r in rows if r.get("warm_start")), None)
    if config.get("warm_start") and any(r["number"] == 0 for r in rows):
        return 0
    return None


def _chance(data: dict[str, Any]) -> tuple[Optional[float], Optional[float]]:
    """Chance accuracy on balanced classes (1/classes) and the validation accuracy that still reads
    as chance, as the trainer's no-learning rule computes it (hpopt.chance)."""
    classes = data.get("num_classes")
    if not isinstance(classes, int) or classes < 2:
        return None, None
    chance = 1.0 / classes
    samples = data.get("n_val") if isinstance(data.get("n_val"), int) else 0
    return chance, chance_ceiling(chance, samples)


def _at_chance(row: dict[str, Any], ceiling: Optional[float]) -> bool:
    if row.get("state") == "no_learning":
        return True
    accuracy = _number(row.get("val_accuracy"))
    return ceiling is not None and accuracy is not None and row.get("state") != "failed" and accuracy <= ceiling


def _per_class(best: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best model's per-class test results, worst F1 first (as report.md lists them)."""
    rows = [r for r in (best or {}).get("per_class") or [] if isinstance(r, dict) and _number(r.get("f1")) is not None]
    return sorted(rows, key=lambda r: (r["f1"], r.get("support") or 0))


def run_summary(record: JobRecord, summary: Optional[dict[str, Any]], run_dir: Path) -> Optional[dict[str, Any]]:
    """The card's facts, or None while the job has not ended with a summary.json."""
    if not (record.terminal and summary and isinstance(summary.get("trials"), list)):
        return None
    rows = [r for r in summary["trials"] if isinstance(r, dict) and isinstance(r.get("number"), int)]
    states = [r.get("state") for r in rows]
    stopped = [bool(r.get("interrupted")) or r.get("state") == "stopped" for r in rows]
    chance, ceiling = _chance(summary.get("data") or {})
    best = summary.get("best_trial") if isinstance(summary.get("best_trial"), dict) else None
    layout = RunLayout(run_dir)
    return {
        "job_id": record.job_id, "status": record.status, "run_name": summary.get("run_name", record.run_name),
        "directions": summary.get("directions") or ["maximize"],
        "best_trial": best,
        "test_accuracy": _number(summary.get("test_accuracy")),
        "test_loss": _number((best or {}).get("test_loss")),
        "macro_f1": _number((best or {}).get("macro_f1")),
        "balanced_accuracy": _number((best or {}).get("balanced_accuracy")),
        "per_class": _per_class(best),
        "stopped_reason": summary.get("stopped_reason"),
        "wall_s": _number(summary.get("wall_s")),
        "counts": {"trials": len(rows), "complete": states.count("complete"), "pruned": states.count("pruned"),
                   "no_learning": states.count("no_learning"),
                   # a trial cut by a stop is not a failure, even where Optuna stored it as failed
                   "failed": sum(s == "failed" and not cut for s, cut in zip(states, stopped)),
                   "stopped": sum(stopped)},
        "baseline_trial": _baseline(rows, summary.get("config") or {}),
        "chance_accuracy": chance,
        "chance_ceiling": ceiling,
        "at_chance": [r["number"] for r in rows if _at_chance(r, ceiling)],
        "report": "report.md" if layout.report.is_file() else None,
    }
