"""Supervisor: starts job processes, tails their event logs, and decides how each ended.

How a job ends is read from the last ``job_outcome`` line its process wrote:
completed -> completed; failed -> failed; interrupted -> cancelled when a user asked to
stop it, else interrupted (server shut down, restarted or died). A process that ended
without an outcome was killed: cancelled after a stop past stop_grace_s, interrupted when
the server was going away or had gone away, failed otherwise.

On a restart (``recover``): running jobs whose process is gone are settled as above;
a job process still alive (it stops itself when it notices its server died) is watched
until it exits, and killed after stop_grace_s. Pending jobs stay pending and start in
queue order.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Optional, Protocol

from hpopt.jobs.hub import Hub
from hpopt.jobs.job_files import LOCK_FILE
from hpopt.jobs.launcher import JobProcess, lock_held
from hpopt.jobs.limits import JobSettings
from hpopt.jobs.live_state import FORWARDED, JobLive
from hpopt.jobs.store import JobRecord, JobStore, utc_now


class SupervisedJobs(Protocol):
    """What the supervisor needs of the jobs it watches (the JobManager provides it): declared
    here so the supervisor depends on this, not on the manager that owns it."""

    settings: JobSettings
    store: JobStore
    hub: Hub

    def job_dir(self, job_id: str) -> Path: ...

    def live(self, job_id: str) -> JobLive: ...

    def tracked_live(self, job_id: str) -> Optional[JobLive]: ...

    def publish_status(self, record: JobRecord) -> None: ...

    def schedule(self) -> None: ...


__all__ = ["Supervisor"]

logger = logging.getLogger(__name__)
POLL_S = 0.2
PROCESS_LOG = "process.log"


class Supervisor:
    def __init__(self, manager: SupervisedJobs) -> None:
        self.manager = manager
        self.procs: dict[str, JobProcess] = {}
        self.watched: set[str] = set()
        self._tasks: dict[str, asyncio.Task] = {}
        self._killers: dict[str, asyncio.Task] = {}
        self.closing = False

    # ---- starting ----------------------------------------------------------------------
    def launch(self, record: JobRecord) -> None:
        manager = self.manager
        job_dir = manager.job_dir(record.job_id)
        attempt = record.attempts + 1
        try:
            settings = manager.settings
            # a stop waits for the end of the epoch, at most half the grace, before interrupting mid-epoch
            proc = JobProcess.start(job_dir, attempt, settings.job_nice, job_dir / PROCESS_LOG,
                                    settings.stop_grace_s / 2)
        except OSError as exc:
            failed = manager.store.update(record.job_id, status="failed", error=f"cannot start the job process: {exc}",
                                          finished_at=utc_now(), attempts=attempt)
            manager.publish_status(failed)
            self.publish_finished(failed)
            return
        record = manager.store.update(record.job_id, status="running", started_at=utc_now(), attempts=attempt,
                                      pid=proc.pid, stop_requested=False, error=None, finished_at=None)
        logger.info("job %s started (attempt %d, pid %d)", record.job_id, attempt, proc.pid)
        manager.publish_status(record)
        self._watch(record.job_id, proc)

    def _watch(self, job_id: str, proc: JobProcess, lost: bool = False) -> None:
        self.procs[job_id] = proc
        self.watched.add(job_id)
        self.manager.live(job_id)  # created before the monitor owns the log
        self._tasks[job_id] = asyncio.get_running_loop().create_task(self._monitor(job_id, lost), name=f"job-{job_id}")

    # ---- watching ----------------------------------------------------------------------
    def _pump(self, job_id: str) -> None:
        """Apply new log lines to the job's state and forward the public ones."""
        live = self.manager.tracked_live(job_id)
        if live is None:
            return
        for event in live.refresh():
            if event.get("type") in FORWARDED:
                self.manager.hub.publish(job_id, {**event, "job_id": job_id})

    async def _monitor(self, job_id: str, lost: bool) -> None:
        try:
            while True:
                self._pump(job_id)
                code = self.procs[job_id].exit_code()
                if code is not None:
                    self._pump(job_id)
                    self._settle(job_id, code, lost)
                    return
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a monitor must never die silently
            logger.exception("monitor of job %s failed", job_id)

    def _settle(self, job_id: str, code: int, lost: bool) -> None:
        manager = self.manager
        self.watched.discard(job_id)
        self.procs.pop(job_id, None)
        self._tasks.pop(job_id, None)
        killer = self._killers.pop(job_id, None)
        if killer is not None:
            killer.cancel()
        record = manager.store.get(job_id)
        if record is None:
            return
        live = manager.live(job_id)
        outcome = live.outcome if live.attempt == record.attempts else None  # not an earlier attempt's
        status, error = self.outcome_status(record, outcome, code, lost or self.closing)
        record = manager.store.update(job_id, status=status, error=error, finished_at=utc_now(), pid=None)
        logger.info("job %s %s%s", job_id, status, f": {error}" if error else "")
        manager.publish_status(record)
        self.publish_finished(record)
        manager.schedule()

    @staticmethod
    def outcome_status(record: JobRecord, outcome: Optional[dict[str, Any]], code: int,
                       server_away: bool) -> tuple[str, Optional[str]]:
        """(status, error) of a job whose process ended; see the module docstring."""
        if outcome is not None:
            kind, error = outcome.get("outcome"), outcome.get("error")
            if kind == "completed":
                return "completed", None
            if kind == "failed":
                return "failed", error or "the job failed; see its job.log"
            if record.stop_requested:
                return "cancelled", None
            return "interrupted", f"interrupted ({error or 'signal'}); resume it to continue"
        if record.stop_requested:
            return "cancelled", "the job process did not stop within stop_grace_s and was killed"
        if server_away:
            return "interrupted", "the server stopped while the job ran; resume it to continue"
        return "failed", f"the job process ended with status {code} without a result; see {PROCESS_LOG}"

    def publish_finished(self, record: JobRecord) -> None:
        self.manager.hub.publish(record.job_id, {"type": "job_finished", "job_id": record.job_id, "time": utc_now(),
                                                 "status": record.status, "error": record.error})

    # ---- stopping ----------------------------------------------------------------------
    def interrupt(self, job_id: str) -> None:
        """SIGINT now, SIGKILL after stop_grace_s if the process is still there."""
        proc = self.procs.get(job_id)
        if proc is None:
            return
        proc.interrupt()
        self._arm_killer(job_id, proc)

    def _arm_killer(self, job_id: str, proc: JobProcess) -> None:
        async def kill_later() -> None:
            await asyncio.sleep(self.manager.settings.stop_grace_s)
            if proc.exit_code() is None:
                logger.warning("job %s did not stop within %.0f s: killing pid %d", job_id,
                               self.manager.settings.stop_grace_s, proc.pid)
                proc.kill()

        if job_id not in self._killers:
            self._killers[job_id] = asyncio.get_running_loop().create_task(kill_later())

    async def recover(self) -> None:
        """Settle the jobs a previous server left running (see the module docstring)."""
        manager = self.manager
        for record in manager.store.with_status("running"):
            lock = manager.job_dir(record.job_id) / LOCK_FILE
            if lock_held(lock) and record.pid:
                logger.info("job %s: its process %d outlived the previous server; waiting for it to stop",
                            record.job_id, record.pid)
                proc = JobProcess(record.pid, lock_path=lock)
                self._watch(record.job_id, proc, lost=True)
                self._arm_killer(record.job_id, proc)
            else:
                manager.live(record.job_id)
                self._settle(record.job_id, -1, lost=True)

    async def shutdown(self) -> None:
        """Interrupt running jobs (they write their results), wait up to stop_grace_s, then kill."""
        self.closing = True
        for job_id, proc in list(self.procs.items()):
            logger.info("server stopping: interrupting job %s", job_id)
            proc.terminate()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.manager.settings.stop_grace_s
        while self.procs and loop.time() < deadline:
            await asyncio.sleep(POLL_S)
        for job_id, proc in list(self.procs.items()):
            logger.warning("job %s did not stop in time: killing pid %d", job_id, proc.pid)
            proc.kill()
        for task in [*self._tasks.values(), *self._killers.values()]:
            task.cancel()
        for job_id, proc in list(self.procs.items()):
            for _ in range(50):
                if proc.exit_code() is not None:
                    break
                await asyncio.sleep(0.1)
            self._pump(job_id)
            self._settle(job_id, proc.exit_code() or -9, lost=True)
