"""A job's OS process: ``python -m hpopt.jobs.job_process --job-dir DIR ...``.

Runs exactly what the CLI runs (``hpopt.runner.run_optimization``) with a listener that
appends every run event to the job's event log. It is the only place TensorFlow loads
for the API. It holds an exclusive lock on job.lock while it lives (so a restarted
server can tell a live job from a dead one without trusting a pid), turns SIGINT and
SIGTERM into the runner's clean Ctrl-C path, and interrupts itself when the server that
started it dies, so a job never trains unwatched.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no storage lock (one job at a time is safe there)
    fcntl = None  # type: ignore[assignment]

from hpopt.events import RunListener
from hpopt.interrupts import STOP, StopController
from hpopt.jobs.event_log import EVENTS_FILE, EventWriter
from hpopt.jobs.job_files import CONFIG_FILE, LOCK_FILE, LOG_FILE, NOTIFY_FILE
from hpopt.jobs.launcher import hold_lock
from hpopt.masking import MaskingFormatter, mask_text

EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130

logger = logging.getLogger("hpopt.api.job")


class EventLogListener(RunListener):
    """Forwards run events to the event log (quick: one small write per event)."""

    def __init__(self, writer: EventWriter, stop: Optional[StopController] = None) -> None:
        self.writer = writer
        self.interrupts = stop or StopController()
        self.summary: Optional[dict[str, Any]] = None  # the run's summary once written (the webhook's numbers)

    def on_run_started(self, info: dict[str, Any]) -> None:
        self.writer.write("run_started", info=info)
        self.interrupts.check()

    def on_trial_started(self, number: int, params: dict[str, Any]) -> None:
        self.interrupts.check()
        self.writer.write("trial_started", trial=number, params=params)

    def on_model_built(self, number: int, architecture: list[dict[str, Any]]) -> None:
        self.writer.write("model_built", trial=number, architecture=architecture)

    def on_epoch(self, number: int, record: Any) -> None:
        data = record.model_dump(mode="json") if hasattr(record, "model_dump") else dict(record)
        self.writer.write("epoch", trial=number, record=data)
        self.interrupts.check()

    def on_best_so_far(self, point: dict[str, Any]) -> None:
        self.writer.write("best_so_far", point=point)

    def on_trial_finished(self, row: dict[str, Any]) -> None:
        self.writer.write("trial_finished", trial=row.get("number"), row=row)
        self.interrupts.check()

    def on_warning(self, warning: dict[str, Any]) -> None:
        self.writer.write("warning", **warning)  # its own time: when it was logged

    def on_run_finished(self, summary: dict[str, Any]) -> None:
        self.interrupts.finished()  # results are written: nothing left to interrupt
        self.summary = summary
        condensed = {k: v for k, v in summary.items() if k not in ("trials", "config", "warnings")}  # sent one by one
        if isinstance(condensed.get("best_trial"), dict):
            condensed["best_trial"] = {k: v for k, v in condensed["best_trial"].items() if k != "history"}
        self.writer.write("run_finished", summary=condensed)


def _setup_logging(job_dir: Path, level: str) -> None:
    handler = logging.FileHandler(job_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))
    logging.captureWarnings(True)
    for name in ("matplotlib", "PIL", "h5py", "urllib3"):
        logging.getLogger(name).setLevel(logging.INFO)


def _directions(config: Any) -> list[str]:
    try:
        from hpopt.scoring import study_directions

        return list(study_directions(config.mode, config.optimize_for))
    except Exception:  # noqa: BLE001 - only used to rank trials live; summary.json is authoritative
        return ["maximize"]


def _prepare_storage(config: Any, lock_dir: Path) -> None:
    """Create the Optuna storage's tables under a lock before the runner opens the study.

    Two jobs starting at once on a fresh SQLite storage would both create its tables and
    one would fail ("table ... already exists"); serializing the first open avoids that.
    """
    import optuna

    from hpopt.study import storage_url

    with (lock_dir / "storage.lock").open("a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        optuna.storages.RDBStorage(storage_url(config)).remove_session()


_WEBHOOK_STATUS = {"completed": "finished", "failed": "failed", "interrupted": "interrupted"}


def _notify(job_dir: Path, run_name: str, outcome: str, summary: Optional[dict[str, Any]],
            error: Optional[str]) -> None:
    """The job's notify_url webhook (notify.json, written by the server when the request had one)."""
    try:
        target = json.loads((job_dir / NOTIFY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        logger.warning("webhook not sent: %s unreadable (%s)", NOTIFY_FILE, exc)
        return
    from hpopt.notify import notify, payload_from_summary

    payload = payload_from_summary(run_name, _WEBHOOK_STATUS.get(outcome, outcome), summary,
                                   job_id=target.get("job_id"), job_url=target.get("job_url"), error=error)
    notify(target.get("url"), payload)


def run_job(job_dir: Path, attempt: int, parent_pid: Optional[int], nice: int, hard_stop_after: float = 30.0) -> int:
    """Run the job once; returns the process exit status."""
    from hpopt.config import OptimizationConfig
    from hpopt.jobs.operator_settings import with_operator_settings

    interrupts = STOP
    interrupts.signal_reasons[signal.SIGINT] = "stop"  # the server stops a job with SIGINT
    interrupts.install(hard_stop_after)
    if nice:
        try:
            os.nice(nice)
        except (AttributeError, OSError):
            pass
    lock = hold_lock(job_dir / LOCK_FILE)
    writer = EventWriter(job_dir / EVENTS_FILE)
    try:
        try:
            config = OptimizationConfig.model_validate(json.loads((job_dir / CONFIG_FILE).read_text()))
            config = with_operator_settings(config)  # config.json holds them masked
        except (OSError, ValueError) as exc:  # e.g. a custom dataset deleted since the job was queued
            writer.write("job_started", attempt=attempt, pid=os.getpid(), directions=["maximize"])
            error = mask_text(f"the job's settings are no longer valid: {exc}")[:2000]
            writer.write("job_outcome", outcome="failed", error=error)
            _notify(job_dir, job_dir.name, "failed", None, error)
            return EXIT_FAILED
        _setup_logging(job_dir, config.log_level)
        interrupts.immediate = config.workers > 1  # the worker pool forwards the stop to its processes
        if parent_pid:
            interrupts.watch_parent(parent_pid)
        writer.write("job_started", attempt=attempt, pid=os.getpid(), directions=_directions(config))
        outcome, error, code = "completed", None, EXIT_COMPLETED
        listener = None
        try:
            from hpopt.run_clock import process_launch_time
            from hpopt.runner import run_optimization  # TensorFlow loads here, in the job process only

            _prepare_storage(config, job_dir.parent)
            listener = EventLogListener(writer, interrupts)
            run_optimization(config, listener, launched_at=process_launch_time())
        except KeyboardInterrupt:
            outcome, error, code = "interrupted", interrupts.reason, EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the job's outcome must reach the server whatever failed
            logger.error("job failed", exc_info=True)
            outcome, error, code = "failed", mask_text(f"{type(exc).__name__}: {exc}")[:2000], EXIT_FAILED
        interrupts.finished()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the outcome line must be written whatever comes now
        writer.write("job_outcome", outcome=outcome, error=error)
        _notify(job_dir, config.resolved_run_name(), outcome, listener.summary if listener else None, error)
        return code
    finally:
        writer.close()
        lock.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpopt.jobs.job_process")
    parser.add_argument("--job-dir", required=True, type=Path)
    parser.add_argument("--attempt", type=int, default=1)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--hard-stop-after", type=float, default=30.0,
                        help="seconds after a stop request before interrupting mid-epoch")
    args = parser.parse_args(argv)
    return run_job(args.job_dir.resolve(), args.attempt, args.parent_pid, args.nice, args.hard_stop_after)


if __name__ == "__main__":
    sys.exit(main())
