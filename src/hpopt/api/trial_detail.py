"""One trial in full: its row, per-epoch history, health report, architecture and plots.

The row comes from the job's live state or summary.json (as GET /jobs/{id}/trials); the
rest from ``<run_dir>/trials/trial_<n>.json``, which the runner writes when a trial ends
(per-epoch health and per-layer statistics included). A trial still training has no
such file yet: its history and architecture come from the event log instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.store import JobRecord
from hpopt.layout import RunLayout

__all__ = ["trial_detail", "read_details"]



def read_details(run_dir: Path, number: int) -> dict[str, Any]:
    """trial_<n>.json, or {} when it is missing or unreadable (e.g. being written)."""
    path = RunLayout(run_dir).trial_details(int(number))
    try:
        details = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return details if isinstance(details, dict) else {}


def _plots(run_dir: Path, number: int) -> list[str]:
    layout = RunLayout(run_dir)
    folder = layout.trial_plots_dir(int(number))
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p.relative_to(layout.run_dir).as_posix() for p in folder.iterdir()
                  if p.suffix.lower() == ".png" and p.is_file() and not p.is_symlink())


def _running_row(current: dict[str, Any]) -> dict[str, Any]:
    return {"number": current["number"], "state": "running", "params": current.get("params") or {},
            "started_at": current.get("started_at"), "epochs_run": len(current.get("epochs") or []),
            "history": list(current.get("epochs") or [])}


def trial_detail(record: JobRecord, rows: list[dict[str, Any]], current: Optional[dict[str, Any]],
                 architecture: Optional[list[dict[str, Any]]], run_dir: Path, number: int) -> Optional[dict[str, Any]]:
    """The trial's detail, or None when the job has no trial ``number`` (yet).

    ``rows``, ``current`` and ``architecture`` (from the event log) are taken on the
    event loop; this part only reads files, so it may run in a thread.
    """
    row = next((r for r in rows if r["number"] == number), None)
    running = row is None and current is not None and current["number"] == number
    if running:
        row = _running_row(current)  # type: ignore[arg-type]
    if row is None:
        return None
    details = {} if running else read_details(run_dir, number)
    history = details.get("history") if isinstance(details.get("history"), list) else None
    health = details.get("health") if isinstance(details.get("health"), dict) else None
    layers = details.get("architecture") if isinstance(details.get("architecture"), list) else None
    trial = dict(row, history=history if history is not None else (row.get("history") or []))
    if health is not None:
        trial["health"] = health  # the full report: per_layer statistics included
    return {"job_id": record.job_id, "status": record.status, "running": running, "trial": trial,
            "architecture": layers or architecture or [], "plots": _plots(run_dir, number)}
