"""JobStore: job records in SQLite (results_dir/hpopt_jobs.db), cached in memory.

SQLite makes jobs outlive the server; the in-memory copy makes reads free, so
GET /jobs/{id} never waits on disk while jobs train. Only the server's event-loop thread
writes, so there is one writer and no locking beyond SQLite's own.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from hpopt.run_clock import utc_stamp

__all__ = ["JobRecord", "JobStore", "STATUSES", "TERMINAL", "ACTIVE", "utc_now"]

STATUSES = ("pending", "running", "completed", "failed", "cancelled", "interrupted")
ACTIVE = ("pending", "running")
TERMINAL = ("completed", "failed", "cancelled", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    run_name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    queued_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    owns_study INTEGER NOT NULL DEFAULT 1
)
"""
_COLUMNS = ("job_id", "status", "run_name", "config", "created_at", "updated_at", "queued_at", "started_at",
            "finished_at", "attempts", "pid", "stop_requested", "error", "owns_study")


def utc_now() -> str:
    return utc_stamp("milliseconds")


@dataclass(frozen=True)
class JobRecord:
    """One job as stored; immutable, replaced as a whole on every change."""

    job_id: str
    status: str
    run_name: str
    config: dict[str, Any]
    created_at: str
    updated_at: str
    queued_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    attempts: int = 0
    pid: Optional[int] = None
    stop_requested: bool = False
    error: Optional[str] = None
    owns_study: bool = True  # the job's study was no other job's when it was queued (DELETE may drop it)
    seq: int = field(default=0, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def study_name(self) -> str:
        """The Optuna study the job runs in: its study_name, else its run_name (as the runner decides)."""
        return self.config.get("study_name") or self.run_name


class JobStore:
    """CRUD over the jobs table with a write-through in-memory cache."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)  # autocommit; one writer
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        if "owns_study" not in {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}:
            self._db.execute("ALTER TABLE jobs ADD COLUMN owns_study INTEGER NOT NULL DEFAULT 1")  # older database
        self._jobs: dict[str, JobRecord] = {}
        for row in self._db.execute(f"SELECT seq, {', '.join(_COLUMNS)} FROM jobs ORDER BY seq"):
            record = self._from_row(row)
            self._jobs[record.job_id] = record

    @staticmethod
    def _from_row(row: tuple) -> JobRecord:
        values = dict(zip(("seq", *_COLUMNS), row))
        values["config"] = json.loads(values["config"])
        values["stop_requested"] = bool(values["stop_requested"])
        values["owns_study"] = bool(values["owns_study"])
        return JobRecord(**values)

    def close(self) -> None:
        self._db.close()

    def add(self, record: JobRecord) -> JobRecord:
        values = asdict(record)
        values.pop("seq")
        values["config"] = json.dumps(values["config"])
        values["stop_requested"] = int(values["stop_requested"])
        values["owns_study"] = int(values["owns_study"])
        cursor = self._db.execute(
            f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [values[c] for c in _COLUMNS])
        stored = replace(record, seq=int(cursor.lastrowid or 0))
        self._jobs[stored.job_id] = stored
        return stored

    def update(self, job_id: str, **changes: Any) -> JobRecord:
        """Change some fields (updated_at is set here); KeyError for an unknown job."""
        current = self._jobs[job_id]
        changes["updated_at"] = utc_now()
        updated = replace(current, **changes)
        columns = [c for c in changes if c in _COLUMNS]
        values = [json.dumps(changes[c]) if c == "config" else int(changes[c]) if c == "stop_requested"
                  else changes[c] for c in columns]
        self._db.execute(f"UPDATE jobs SET {', '.join(c + ' = ?' for c in columns)} WHERE job_id = ?",
                         [*values, job_id])
        self._jobs[job_id] = updated
        return updated

    def delete(self, job_id: str) -> None:
        self._db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
        self._jobs.pop(job_id, None)

    def get(self, job_id: str) -> Optional[JobRecord]:
        return self._jobs.get(job_id)

    def all(self) -> list[JobRecord]:
        """Oldest first (queue order)."""
        return sorted(self._jobs.values(), key=lambda r: r.seq)

    def with_status(self, *statuses: str) -> list[JobRecord]:
        return [r for r in self.all() if r.status in statuses]

    def by_run_name(self, run_name: str) -> Optional[JobRecord]:
        return next((r for r in self._jobs.values() if r.run_name == run_name), None)

    def by_study(self, study_name: str, storage: Optional[str] = None) -> list[JobRecord]:
        """Jobs running in the study ``study_name`` of ``storage`` (a job's recorded storage), oldest first."""
        return [r for r in self.all() if r.study_name == study_name and r.config.get("storage") == storage]
