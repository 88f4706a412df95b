"""JobManager: the queue and the commands on jobs (submit, stop, resume, delete).

Jobs are admitted FIFO up to max_concurrent_jobs; each runs in its own OS process
(hpopt.api.supervisor watches it). Every state change goes to SQLite first, so a
restarted server lists every job; see ``recover`` for what a restart does to each state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
from pathlib import Path
from typing import Any, Optional

from hpopt.api.hub import Hub
from hpopt.api.job_runner import CONFIG_FILE, LOCK_FILE
from hpopt.api.live import JobLive
from hpopt.api.event_log import EVENTS_FILE
from hpopt.api.proc import lock_held
from hpopt.api.settings import ApiSettings
from hpopt.api.store import TERMINAL, JobRecord, JobStore, utc_now
from hpopt.api.supervisor import Supervisor
from hpopt.api.views import SummaryCache, job_view

__all__ = ["JobManager", "JobNotFound", "JobConflict"]

logger = logging.getLogger(__name__)


class JobNotFound(LookupError):
    """No job with that id (answered with 404)."""


class JobConflict(RuntimeError):
    """The job's state does not allow the command now (answered with 409)."""


class JobManager:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.results_dir = settings.results_path
        self.results_dir.mkdir(parents=True, exist_ok=True)
        settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(settings.jobs_db)
        self.hub = Hub()
        self.summaries = SummaryCache()
        self._live: dict[str, JobLive] = {}
        self.supervisor = Supervisor(self)

    # ---- paths and state -------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.settings.jobs_dir / job_id

    def run_dir(self, record: JobRecord) -> Path:
        return self.results_dir / record.run_name

    def get(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id)
        if record is None:
            raise JobNotFound(f"no job {job_id!r}; GET /jobs lists them")
        return record

    def live(self, job_id: str) -> JobLive:
        """The job's state from its event log, brought up to date (one stat call when unchanged)."""
        live = self._live.get(job_id)
        if live is None:
            live = self._live[job_id] = JobLive(self.job_dir(job_id) / EVENTS_FILE)
        if job_id not in self.supervisor.watched:  # a watched job's log is read by its monitor
            live.refresh()
        return live

    def summary(self, record: JobRecord) -> Optional[dict[str, Any]]:
        return self.summaries.get(self.run_dir(record))

    def queue_position(self, record: JobRecord) -> Optional[int]:
        if record.status != "pending":
            return None
        pending = sorted(self.store.with_status("pending"), key=lambda r: (r.queued_at or "", r.seq))
        return next((i + 1 for i, r in enumerate(pending) if r.job_id == record.job_id), None)

    def view(self, record: JobRecord) -> dict[str, Any]:
        return job_view(record, self.live(record.job_id), self.summary(record), self.queue_position(record))

    def publish_status(self, record: JobRecord) -> None:
        self.hub.publish(record.job_id, {"type": "job_status", "job_id": record.job_id, "time": utc_now(),
                                         "status": record.status, "error": record.error,
                                         "attempt": record.attempts, "stop_requested": record.stop_requested})

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.supervisor.recover()
        self.schedule()

    async def shutdown(self) -> None:
        await self.supervisor.shutdown()
        self.store.close()

    def schedule(self) -> None:
        """Start pending jobs, oldest first, while slots are free."""
        if self.supervisor.closing:
            return
        running = len(self.store.with_status("running"))
        free = self.settings.max_concurrent_jobs - running
        pending = sorted(self.store.with_status("pending"), key=lambda r: (r.queued_at or "", r.seq))
        for record in pending[:max(0, free)]:
            self.supervisor.launch(record)

    # ---- commands ----------------------------------------------------------------------
    def submit(self, config: Any) -> JobRecord:
        """Queue a validated OptimizationConfig as a new job."""
        job_id = secrets.token_hex(8)
        run_name = config.run_name or f"{config.default_run_name()}_{job_id[:8]}"
        if self.store.by_run_name(run_name) is not None:
            raise JobConflict(f"run_name={run_name!r} belongs to job {self.store.by_run_name(run_name).job_id}; "
                              "resume that job (POST /jobs/{id}/resume) or choose another run_name")
        data = config.to_dict()
        data.update(run_name=run_name, results_dir=str(self.results_dir))
        now = utc_now()
        record = JobRecord(job_id=job_id, status="pending", run_name=run_name, config=data,
                           created_at=now, updated_at=now, queued_at=now)
        self._write_config(job_id, data)
        record = self.store.add(record)
        logger.info("job %s queued: run %s, dataset %s, %s trials", job_id, run_name, data["dataset"], data["trials"])
        self.schedule()
        return self.get(job_id)

    def _write_config(self, job_id: str, config: dict[str, Any]) -> None:
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(folder / CONFIG_FILE)

    def stop(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record.status == "pending":
            record = self.store.update(job_id, status="cancelled", finished_at=utc_now(), stop_requested=True)
            self.publish_status(record)
            self.supervisor.publish_finished(record)
            return record
        if record.status != "running":
            raise JobConflict(f"job {job_id} is {record.status}, not running or pending: nothing to stop")
        if not record.stop_requested:
            record = self.store.update(job_id, stop_requested=True)
            self.publish_status(record)
            self.supervisor.interrupt(job_id)
        return record

    def resume(self, job_id: str, trials: Optional[int] = None) -> JobRecord:
        record = self.get(job_id)
        total = int(record.config.get("trials") or 0)
        if record.status not in TERMINAL:
            raise JobConflict(f"job {job_id} is {record.status}: only a finished job can be resumed")
        if record.status == "completed" and (trials is None or trials <= total):
            raise JobConflict(f"job {job_id} completed its {total} trials; resume with a larger \"trials\" to run more")
        if lock_held(self.job_dir(job_id) / LOCK_FILE):
            raise JobConflict(f"job {job_id}'s previous process is still writing its results; retry in a few seconds")
        config = dict(record.config, trials=trials or total)
        self._write_config(job_id, config)
        record = self.store.update(job_id, status="pending", config=config, queued_at=utc_now(), finished_at=None,
                                   stop_requested=False, error=None)
        logger.info("job %s resumed (attempt %d, %d trials in total)", job_id, record.attempts + 1, config["trials"])
        self.publish_status(record)
        self.schedule()
        return self.get(job_id)

    async def delete(self, job_id: str) -> None:
        record = self.get(job_id)
        if record.status == "running":
            raise JobConflict(f"job {job_id} is running: stop it first (POST /jobs/{job_id}/stop)")
        self.store.delete(job_id)
        self._live.pop(job_id, None)
        self.hub.close_job(job_id)
        run_dir = self.run_dir(record)
        self.summaries.forget(run_dir)
        shared = any(r.config.get("study_name") and r.config.get("study_name") == record.config.get("study_name")
                     for r in self.store.all())
        await asyncio.to_thread(self._delete_files, record, run_dir, not shared)
        logger.info("job %s deleted with its files", job_id)

    def _delete_files(self, record: JobRecord, run_dir: Path, delete_study: bool) -> None:
        for folder in (run_dir, self.job_dir(record.job_id)):
            if folder.resolve().is_relative_to(self.results_dir) and folder.resolve() != self.results_dir:
                shutil.rmtree(folder, ignore_errors=True)
        if delete_study:
            _delete_study(record.config, self.results_dir)


def _delete_study(config: dict[str, Any], results_dir: Path) -> None:
    """Drop the job's Optuna study, so a new job of the same run_name starts afresh."""
    try:
        import optuna  # lazy: only deletes pay for it, and it never imports TensorFlow

        from hpopt.study import DEFAULT_STORAGE_FILE

        storage = config.get("storage") or f"sqlite:///{results_dir / DEFAULT_STORAGE_FILE}"
        if storage.startswith("sqlite:///") and not Path(storage[10:]).exists():
            return
        optuna.delete_study(study_name=config.get("study_name") or config["run_name"], storage=storage)
    except KeyError:
        pass  # no such study: the job never started a trial
    except Exception as exc:  # noqa: BLE001 - the job is deleted either way; say what was left behind
        logger.warning("job study %s not deleted from its storage: %s", config.get("run_name"), exc)
