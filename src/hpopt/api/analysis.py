"""What the dashboard's analysis views draw: every trial's parameters (with the distribution
each was sampled from), value, state and per-epoch values, read from the job's Optuna study.

The study knows the distributions (log scale, integer steps, categorical choices) that the
parallel coordinates, slice and contour views need for honest axes. Per-epoch values are
the study's intermediate values (reported when a pruner is on); without them, the
objective of each epoch from the job's trial rows, so the curves exist with pruner=none.
The job's own trial states win over Optuna's (they tell no_learning from complete).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from hpopt.api.job_cache import JobAnswerCache
from hpopt.api.job_study import job_storage_url, load_job_study
from hpopt.jobs.store import JobRecord
from hpopt.trial_record import trial_state

if TYPE_CHECKING:
    import optuna

__all__ = ["AnalysisCache", "compute_analysis", "epoch_values"]

logger = logging.getLogger(__name__)


def _finite(value: Any) -> Optional[float]:
    """JSON has no inf or NaN: a diverged trial's value is shown as missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def epoch_values(row: dict[str, Any]) -> list[dict[str, float]]:
    """A trial row's per-epoch objective ([{step, value}]): its ``value``, else val_accuracy."""
    out = []
    for index, record in enumerate(row.get("history") or []):
        if not isinstance(record, dict):
            continue
        value = _finite(record.get("value") if record.get("value") is not None else record.get("val_accuracy"))
        step = record.get("epoch", index + 1)
        if value is not None and isinstance(step, int):
            out.append({"step": step, "value": value})
    return out


def _distribution(name: str, dist: Any) -> dict[str, Any]:
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return {"name": name, "kind": "categorical", "log": False, "choices": list(dist.choices)}
    kind = "int" if isinstance(dist, optuna.distributions.IntDistribution) else "float"
    return {"name": name, "kind": kind, "log": bool(dist.log), "low": float(dist.low), "high": float(dist.high),
            "step": None if dist.step is None else float(dist.step)}


def _trial(trial: "optuna.trial.FrozenTrial", row: Optional[dict[str, Any]]) -> dict[str, Any]:
    values = [_finite(v) for v in trial.values] if trial.values else None
    intermediate = [{"step": int(step), "value": v} for step, value in sorted(trial.intermediate_values.items())
                    if (v := _finite(value)) is not None]
    if not intermediate and row is not None:
        intermediate = epoch_values(row)
    state = row.get("state") if row is not None and isinstance(row.get("state"), str) else None
    return {"number": trial.number, "state": state or trial_state(trial),
            "value": values[0] if values else None, "values": values, "params": dict(trial.params),
            "intermediate": intermediate}


def compute_analysis(record: JobRecord, results_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{directions, params, trials, reason}; never raises (a missing study gives a reason)."""
    out: dict[str, Any] = {"directions": ["maximize"], "params": [], "trials": [], "reason": None}
    storage = job_storage_url(record.config, results_dir)
    if storage is None:
        return dict(out, reason="the job has not started a trial yet")
    try:
        study = load_job_study(record, storage)
        trials = study.get_trials(deepcopy=False)
        out["directions"] = [d.name.lower() for d in study.directions]
    except KeyError:
        return dict(out, reason="the job's study is not in its storage (not started, or deleted)")
    except Exception as exc:  # noqa: BLE001 - an unreachable database must not break the page
        logger.info("analysis of job %s not read: %s", record.job_id, exc)
        return dict(out, reason=f"the study could not be read: {exc}")
    by_number = {r["number"]: r for r in rows if isinstance(r.get("number"), int)}
    distributions: dict[str, dict[str, Any]] = {}
    for trial in trials:
        for name, dist in trial.distributions.items():
            distributions.setdefault(name, _distribution(name, dist))
    out["params"] = [distributions[name] for name in sorted(distributions)]
    out["trials"] = [_trial(t, by_number.get(t.number)) for t in trials]
    if not trials:
        out["reason"] = "no trial has started yet"
    return out


class AnalysisCache(JobAnswerCache):
    """One answer per job: ``get(record, trials_finished, results_dir, rows)``."""

    def __init__(self) -> None:
        super().__init__(compute_analysis)
