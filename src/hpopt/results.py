"""The results folder: summary.json, trials.csv, best model, hyperparameters, plots, report.

Layout and field names are a contract (DESIGN.md "Results folder"): tests, the API and
users read them.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from hpopt.datasets import preprocessing
from hpopt.jsonutil import to_jsonable, write_json
from hpopt.layout import RunLayout
from hpopt.search_space import WARM_START_ATTR
from hpopt.trial_record import (
    CLAIM_ATTR,
    INTERRUPTED_ATTR,
    SCORE_ATTR,
    STOP_REASON_ATTR,
    TrialRecord,
    state_counts,
    trial_state,
)

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)

CSV_FIELDS = ("number", "state", "value", "val_accuracy", "overall_health", "epochs_run", "duration_s",
              "param_count", "execution", "worker", "endpoint", "billed_s", "cost_usd", "started_at", "finished_at")


def _iso(value: Any) -> Optional[str]:
    return value.isoformat(timespec="seconds") + "Z" if value is not None and value.tzinfo is None else (
        value.isoformat(timespec="seconds") if value is not None else None)


def trial_row(trial: FrozenTrial) -> dict[str, Any]:
    """One trial as summary.json lists it."""
    attrs = trial.user_attrs
    record = TrialRecord.load(trial)
    values = trial.values
    return to_jsonable({
        "number": trial.number,
        "state": trial_state(trial),
        "value": (values[0] if len(values) == 1 else list(values)) if values else None,
        "val_accuracy": record.val_accuracy,
        "params": dict(trial.params),
        "health": record.health,
        "score": attrs.get(SCORE_ATTR),
        "epochs_run": record.epochs_run,
        "best_epoch": record.best_epoch,
        "param_count": record.param_count,
        "started_at": attrs.get(CLAIM_ATTR) or _iso(trial.datetime_start),
        "finished_at": record.finished_at or _iso(trial.datetime_complete),
        "duration_s": record.duration_s,
        "train_seconds": record.train_seconds,
        "health_seconds": record.health_seconds,
        "execution": record.execution,
        "worker": record.worker,
        "endpoint": record.endpoint,
        "billed_s": record.billed_s,
        "cost_usd": record.cost_usd,
        "failure": record.failure,
        "stop_reason": attrs.get(STOP_REASON_ATTR),
        "interrupted": bool(attrs.get(INTERRUPTED_ATTR, False)),
        "warm_start": bool(attrs.get(WARM_START_ATTR, False)),  # the enqueued baseline (trial 0 of a new study)
        "history": record.history,
    })


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best trial (single objective) or the Pareto front (multi-objective)."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return []
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda t: -t.values[0])
    return [study.best_trial]


def write_trials_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    param_names = sorted({name for row in rows for name in row["params"]})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CSV_FIELDS, *param_names])
        for row in rows:
            health = row["health"] or {}
            base = [row.get(f) if f != "overall_health" else health.get("overall_health") for f in CSV_FIELDS]
            writer.writerow([*base, *(row["params"].get(p) for p in param_names)])


def place_best_model(run_dir: Path, best_number: Optional[int], keep: set[int]) -> Optional[Path]:
    """Move the best trial's own trained model to best_model.keras; drop models no longer needed.

    A resumed run whose best trial is still the one from an earlier session keeps the
    best_model.keras that session wrote (its summary.json names the trial).
    """
    layout = RunLayout(run_dir)
    models_dir, target = layout.trial_models_dir, layout.best_model
    if best_number is None:
        return None
    source = layout.trial_model(best_number)
    if source.exists():
        shutil.copyfile(source, target)
    elif not (target.exists() and previous_best_number(run_dir) == best_number):
        logger.warning("the model of the best trial (%d) is not in %s; best_model.keras not written",
                       best_number, models_dir)
        return None
    if models_dir.exists():
        for path in models_dir.glob("trial_*.keras"):
            if int(path.stem.split("_")[1]) not in keep - {best_number}:
                path.unlink()
        if not any(models_dir.iterdir()):
            models_dir.rmdir()
    return target


def previous_best_number(run_dir: Path) -> Optional[int]:
    try:
        return json.loads(RunLayout(run_dir).summary.read_text())["best_trial"]["number"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_hyperparameters(path: Path, trial: FrozenTrial, config: "OptimizationConfig") -> None:
    content = {
        "trial": trial.number,
        "value": trial.values[0] if len(trial.values) == 1 else list(trial.values),
        "val_accuracy": TrialRecord.load(trial).val_accuracy,
        "dataset": config.dataset,
        "hyperparameters": dict(trial.params),
    }
    path.write_text(yaml.safe_dump(to_jsonable(content), sort_keys=False))


def build_summary(*, run_name: str, config: "OptimizationConfig", study: optuna.Study, rows: list[dict],
                  wall_s: float, best: list[FrozenTrial], test_metrics: Optional[dict], dataset_summary: dict,
                  interrupted: bool) -> dict[str, Any]:
    counts = state_counts(row["state"] for row in rows)
    best_row = next((row for row in rows if best and row["number"] == best[0].number), None)
    summary: dict[str, Any] = {
        "run_name": run_name,
        "dataset": config.dataset,
        "mode": config.mode,
        "optimize_for": config.optimize_for,
        "config": config.to_dict(),
        "study_name": study.study_name,
        "directions": [d.name.lower() for d in study.directions],
        "data": dataset_summary,
        "n_trials": len(rows),
        "n_complete": counts["n_complete"],
        "n_pruned": counts["n_pruned"],
        "n_no_learning": counts["n_no_learning"],
        "n_failed": counts["n_failed"],
        "n_stopped": counts["n_stopped"],  # cut by a stop: listed, not counted towards the trials cap
        "wall_s": round(wall_s, 3),
        "interrupted": interrupted,
        "best_trial": dict(best_row, **(test_metrics or {})) if best_row else None,
        "test_accuracy": (test_metrics or {}).get("test_accuracy"),
        "trials": rows,
    }
    if len(study.directions) > 1:
        summary["pareto_front"] = [
            {"number": t.number, "val_accuracy": t.values[0], "overall_health": t.values[1], "params": t.params}
            for t in best
        ]
    return summary


def write_preprocessing(run_dir: Path, dataset: Any) -> Optional[Path]:
    """preprocessing.json, so ``predict`` turns new files into inputs exactly as training did."""
    try:
        return preprocessing.write(run_dir, dataset)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        logger.warning("preprocessing.json not written (%s): predict will refuse this run", exc)
        return None


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    layout = RunLayout(run_dir)
    write_json(layout.summary, summary)
    write_trials_csv(layout.trials_csv, summary["trials"])
