"""JobManager: the queue and the commands on jobs (submit, stop, resume, delete).

Jobs are admitted FIFO up to max_concurrent_jobs; each runs in its own OS process
(hpopt.jobs.supervisor watches it). Every state change goes to SQLite first, so a
restarted server lists every job; see ``recover`` for what a restart does to each state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.event_log import EVENTS_FILE
from hpopt.jobs.hub import Hub
from hpopt.jobs.job_files import CONFIG_FILE, LOCK_FILE, NOTIFY_FILE
from hpopt.jobs.launcher import lock_held
from hpopt.jobs.limits import JobSettings
from hpopt.jobs.live_state import JobLive
from hpopt.jobs.store import TERMINAL, JobRecord, JobStore, utc_now
from hpopt.jobs.supervisor import Supervisor
from hpopt.jobs.views import SummaryCache, job_view
from hpopt.layout import storage_url, study_name

__all__ = ["JobManager", "JobNotFound", "JobConflict", "StudyTaken", "QueueFull"]

logger = logging.getLogger(__name__)


class JobNotFound(LookupError):
    """No job with that id (answered with 404)."""


class JobConflict(RuntimeError):
    """The job's state does not allow the command now (answered with 409)."""


class StudyTaken(ValueError):
    """The request's study belongs to another job and the operator does not allow sharing (422)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class QueueFull(RuntimeError):
    """max_queued_jobs jobs are pending already (answered with 429 and Retry-After)."""

    retry_after_s = 60


class JobManager:
    def __init__(self, settings: JobSettings) -> None:
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

    def tracked_live(self, job_id: str) -> Optional[JobLive]:
        """The job's state as last read, without reading its log (None if never read)."""
        return self._live.get(job_id)

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
    def submit(self, config: Any, public_url: Optional[str] = None) -> JobRecord:
        """Queue a validated OptimizationConfig as a new job (``public_url``: the server's base URL, for webhooks)."""
        job_id = secrets.token_hex(8)
        run_name = config.run_name or f"{config.default_run_name()}_{job_id[:8]}"
        if self.store.by_run_name(run_name) is not None:
            raise JobConflict(f"run_name={run_name!r} belongs to job {self.store.by_run_name(run_name).job_id}; "
                              "resume that job (POST /jobs/{id}/resume) or choose another run_name")
        data = config.to_dict()  # credentials masked: the job re-reads them from the server's settings
        data.update(run_name=run_name, results_dir=str(self.results_dir))
        users = self.store.by_study(data.get("study_name") or run_name, data.get("storage"))
        if users and not self.settings.allow_shared_studies:
            key = "study_name" if data.get("study_name") else "run_name"
            raise StudyTaken(f"study_name={users[0].study_name!r} is the study of job {users[0].job_id}: a job may "
                             "not attach to another job's study (the operator allows it with "
                             "HYPEROPT_ALLOW_SHARED_STUDIES=true); choose another study_name or run_name", key)
        self.check_queue()
        now = utc_now()
        record = JobRecord(job_id=job_id, status="pending", run_name=run_name, config=data,
                           created_at=now, updated_at=now, queued_at=now, owns_study=not users)
        self._write_config(job_id, data)
        if getattr(config, "notify_url", None):
            self._write_notify(job_id, config.notify_url, public_url)
        record = self.store.add(record)
        logger.info("job %s queued: run %s, dataset %s, %s trials", job_id, run_name, data["dataset"], data["trials"])
        self.schedule()
        return self.get(job_id)

    def check_queue(self) -> None:
        """QueueFull when max_queued_jobs jobs would be pending already (a job that starts at once is not queued)."""
        limit = self.settings.max_queued_jobs
        free = max(0, self.settings.max_concurrent_jobs - len(self.store.with_status("running")))  # start at once
        if len(self.store.with_status("pending")) >= limit + free:
            raise QueueFull(f"the job queue is full: max_queued_jobs={limit} jobs are pending already "
                            f"(HYPEROPT_MAX_QUEUED_JOBS); retry when one has started, or stop one")

    def _write_config(self, job_id: str, config: dict[str, Any]) -> None:
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(folder / CONFIG_FILE)

    def _write_notify(self, job_id: str, url: str, public_url: Optional[str]) -> None:
        """config.json holds notify_url as scheme://host only; the job process reads the real one here."""
        job_url = f"{public_url.rstrip('/')}/jobs/{job_id}" if public_url else f"/jobs/{job_id}"
        path = self.job_dir(job_id) / NOTIFY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"url": url, "job_id": job_id, "job_url": job_url}, handle)

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
        self.check_queue()
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
        # only what the job owns: its study if it created it and no other job runs in it
        users = self.store.by_study(record.study_name, record.config.get("storage"))
        if record.owns_study and users:  # the study lives on with the jobs attached to it: the oldest owns it now
            self.store.update(users[0].job_id, owns_study=True)
        shared = bool(users)
        await asyncio.to_thread(self._delete_files, record, run_dir, record.owns_study and not shared)
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

        from hpopt.jobs.operator_settings import operator_storage  # the record's storage is masked
        storage = storage_url(operator_storage(config.get("storage")), results_dir, create_dir=False)
        if storage.startswith("sqlite:///") and not Path(storage[10:]).exists():
            return
        optuna.delete_study(study_name=study_name(config.get("study_name"), config["run_name"]), storage=storage)
        logger.info("study %s deleted with its job", config.get("study_name") or config["run_name"])
    except KeyError:
        pass  # no such study: the job never started a trial
    except Exception as exc:  # noqa: BLE001 - the job is deleted either way; say what was left behind
        logger.warning("job study %s not deleted from its storage: %s", config.get("run_name"), exc)
