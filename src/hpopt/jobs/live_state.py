"""JobLive: a job's state as its event log tells it (trials, the running trial, outcome).

Rebuilt by replaying the log, so it is the same after a server restart as before; the
server keeps one per job and feeds it the lines appended since the last look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.event_log import EventTail
from hpopt.scoring import improves
from hpopt.trial_record import state_counts

__all__ = ["JobLive", "best_of", "trends_of", "first_value"]

# Events the job process writes (hpopt.jobs.job_process); only some are forwarded to clients.
FORWARDED = ("run_started", "trial_started", "model_built", "epoch", "best_so_far", "trial_finished", "warning",
             "run_finished")
MAX_WARNINGS = 100  # as summary.json keeps (hpopt.run_warnings)


def first_value(row: dict[str, Any]) -> Optional[float]:
    """The value that ranks a trial: the value, or the first objective's in pareto mode."""
    value = row.get("value")
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def best_of(rows: list[dict[str, Any]], direction: str) -> Optional[dict[str, Any]]:
    """The complete trial with the best value (lowest number on ties)."""
    best = None
    for row in rows:
        value = first_value(row)
        if row.get("state") != "complete" or value is None:
            continue
        if improves(value, None if best is None else first_value(best), direction):
            best = row
    return best


def trends_of(rows: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    """Per trial: value, running best, val_accuracy and health, in trial order."""
    out, best = [], None
    for row in sorted(rows, key=lambda r: r["number"]):
        value = first_value(row)
        if row.get("state") == "complete" and value is not None and improves(value, best, direction):
            best = value
        health = row.get("health") or {}
        out.append({
            "number": row["number"], "state": row.get("state"), "value": value, "best_value": best,
            "val_accuracy": row.get("val_accuracy"), "overall_health": health.get("overall_health"),
            "health": {k: v for k, v in health.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "duration_s": row.get("duration_s"), "epochs_run": row.get("epochs_run"),
        })
    return out


class JobLive:
    """Folds a job's event log into its current state."""

    def __init__(self, events_path: Path) -> None:
        self.tail = EventTail(events_path)
        self.attempt = 0
        self.directions: list[str] = ["maximize"]
        self.run_info: Optional[dict[str, Any]] = None
        self.trials: dict[int, dict[str, Any]] = {}
        self.current: Optional[dict[str, Any]] = None
        self.architectures: dict[int, list[dict[str, Any]]] = {}  # per trial, from model_built
        self.outcome: Optional[dict[str, Any]] = None
        self.summary: Optional[dict[str, Any]] = None
        self.best_so_far: Optional[dict[str, Any]] = None  # the best epoch yet (best_model.keras holds it)
        self.warnings: list[dict[str, Any]] = []  # every attempt's, as summary.json keeps a resumed run's
        self.warnings_dropped = 0

    @property
    def direction(self) -> str:
        return self.directions[0] if self.directions else "maximize"

    def refresh(self) -> list[dict[str, Any]]:
        """Apply the events appended since the last call; returns them in order."""
        events = list(self.tail.read_new())
        for event in events:
            self.apply(event)
        return events

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "job_started":
            self.attempt = int(event.get("attempt") or self.attempt + 1)
            self.directions = list(event.get("directions") or self.directions)
            self.current, self.outcome, self.summary, self.best_so_far = None, None, None, None
        elif kind == "run_started":
            self.run_info = event.get("info")
        elif kind == "trial_started":
            self.current = {"number": event.get("trial"), "params": event.get("params") or {},
                            "started_at": event.get("time"), "epochs": []}
        elif kind == "model_built" and isinstance(event.get("trial"), int):
            self.architectures[event["trial"]] = list(event.get("architecture") or [])
        elif kind == "epoch" and self.current is not None and self.current["number"] == event.get("trial"):
            self.current["epochs"].append(event.get("record") or {})
        elif kind == "best_so_far" and isinstance(event.get("point"), dict):
            self.best_so_far = event["point"]
        elif kind == "trial_finished":
            self._trial_finished(event.get("row") or {})
        elif kind == "warning":
            self._warn(event)
        elif kind == "run_finished":
            self.summary = event.get("summary")
            self.current = None
        elif kind == "job_outcome":
            self.outcome = {"outcome": event.get("outcome"), "error": event.get("error")}
            self.current = None

    def _trial_finished(self, row: dict[str, Any]) -> None:
        if isinstance(row.get("number"), int):
            self.trials[row["number"]] = row
            if self.current is not None and self.current["number"] == row["number"]:
                self.current = None

    def _warn(self, event: dict[str, Any]) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({k: v for k, v in event.items() if k not in ("type", "job_id")})
        else:
            self.warnings_dropped += 1

    def rows(self) -> list[dict[str, Any]]:
        return [self.trials[n] for n in sorted(self.trials)]

    def counts(self) -> dict[str, int]:
        return state_counts(row.get("state") for row in self.trials.values())
