"""What the API shows of a job: built from its record, its event log and summary.json.

While a job runs its event log is the truth; once it ended, summary.json (written by the
runner, with every trial of every attempt) is. Parsed summaries are cached by mtime so
repeated reads cost one stat call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.live_state import JobLive, best_of, first_value, trends_of
from hpopt.jobs.store import JobRecord
from hpopt.layout import RunLayout
from hpopt.masking import masked_config
from hpopt.trial_record import state_counts

__all__ = ["SummaryCache", "job_view", "trial_rows", "current_trial", "best_trial", "trends"]


class SummaryCache:
    def __init__(self) -> None:
        self._cache: dict[Path, tuple[float, dict[str, Any]]] = {}

    def get(self, run_dir: Path) -> Optional[dict[str, Any]]:
        path = RunLayout(run_dir).summary
        try:
            mtime = path.stat().st_mtime
        except OSError:
            self._cache.pop(path, None)
            return None
        cached = self._cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cached[1] if cached else None
        if not isinstance(summary, dict):
            return None
        self._cache[path] = (mtime, summary)
        return summary

    def forget(self, run_dir: Path) -> None:
        self._cache.pop(RunLayout(run_dir).summary, None)


def _finished_summary(record: JobRecord, summary: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """summary.json when it describes the job's final state (the job ended)."""
    return summary if record.terminal and summary and isinstance(summary.get("trials"), list) else None


def direction(live: JobLive, summary: Optional[dict[str, Any]]) -> str:
    """How trials rank: the study's first direction (summary.json's, else the job's log)."""
    directions = (summary or {}).get("directions")
    if isinstance(directions, list) and directions and directions[0] in ("maximize", "minimize"):
        return directions[0]
    return live.direction


def trial_rows(record: JobRecord, live: JobLive, summary: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    final = _finished_summary(record, summary)
    rows = [r for r in final["trials"] if isinstance(r, dict)] if final else live.rows()
    if final:  # trials reported live but missing from an older summary (should not happen) are kept
        numbers = {r.get("number") for r in rows}
        rows += [r for r in live.rows() if r.get("number") not in numbers]
    return sorted((r for r in rows if isinstance(r.get("number"), int)), key=lambda r: r["number"])


def _cost_total(rows: list[dict[str, Any]]) -> Optional[float]:
    """GPU proxy spend of the trials finished so far (summary.json's cost_usd_total at the end); None
    while no trial has a cost (a local run)."""
    costs = [r["cost_usd"] for r in rows if isinstance(r.get("cost_usd"), (int, float))]
    return sum(costs) if costs else None


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """summary.json's counts (hpopt.trial_record.state_counts); trials_finished counts towards the cap."""
    counts = state_counts(r.get("state") for r in rows)
    return {"trials_finished": counts.pop("n_finished"), **counts}


def job_view(record: JobRecord, live: JobLive, summary: Optional[dict[str, Any]],
             queue_position: Optional[int]) -> dict[str, Any]:
    config = record.config
    rows = trial_rows(record, live, summary)
    best = best_of(rows, direction(live, summary))
    current = live.current if record.status == "running" else None
    progress = {"trials_total": int(config.get("trials") or 0), **_counts(rows),
                "current_trial": current["number"] if current else None,
                "current_epoch": len(current["epochs"]) if current else None,
                "best_value": first_value(best) if best else None, "best_so_far": live.best_so_far,
                "cost_usd_total": _cost_total(rows)}
    return {
        "job_id": record.job_id, "status": record.status, "run_name": record.run_name,
        "dataset": str(config.get("dataset")), "mode": str(config.get("mode")),
        "optimize_for": str(config.get("optimize_for")), "trials": int(config.get("trials") or 0),
        "created_at": record.created_at, "updated_at": record.updated_at, "queued_at": record.queued_at,
        "started_at": record.started_at, "finished_at": record.finished_at, "attempts": record.attempts,
        "stop_requested": record.stop_requested, "error": record.error, "queue_position": queue_position,
        "progress": progress, "config": masked_config(config),
    }


def _public_row(row: dict[str, Any], history: bool) -> dict[str, Any]:
    return row if history else {k: v for k, v in row.items() if k != "history"}


def public_rows(rows: list[dict[str, Any]], history: bool) -> list[dict[str, Any]]:
    return [_public_row(r, history) for r in rows]


def current_trial(record: JobRecord, live: JobLive) -> Optional[dict[str, Any]]:
    current = live.current if record.status == "running" else None
    if current is None or not isinstance(current.get("number"), int):
        return None
    params = current.get("params") or {}
    planned = params.get("epochs")
    return {"number": current["number"], "params": params, "started_at": current.get("started_at"),
            "planned_epochs": planned if isinstance(planned, int) else None, "epochs": list(current["epochs"]),
            "architecture": live.architectures.get(current["number"], [])}


def best_trial(record: JobRecord, live: JobLive, summary: Optional[dict[str, Any]]) -> dict[str, Any]:
    final = _finished_summary(record, summary)
    if final and isinstance(final.get("best_trial"), dict):
        best: Optional[dict[str, Any]] = final["best_trial"]
    else:
        best = best_of(trial_rows(record, live, summary), direction(live, summary))
    return {"job_id": record.job_id, "status": record.status, "direction": direction(live, summary),
            "best_trial": best, "test_accuracy": (final or {}).get("test_accuracy"),
            "pareto_front": (final or {}).get("pareto_front")}


def trends(record: JobRecord, live: JobLive, summary: Optional[dict[str, Any]]) -> dict[str, Any]:
    ranking = direction(live, summary)
    return {"job_id": record.job_id, "status": record.status, "direction": ranking,
            "trends": trends_of(trial_rows(record, live, summary), ranking)}
