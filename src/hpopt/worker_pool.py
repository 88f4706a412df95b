"""workers=N: N processes on this machine share one Optuna study.

Scale-out rides on Optuna's own distributed engine: every worker opens the same study in
the same storage and runs trials until the study holds ``trials`` trials. This module
only starts the processes (each with its own GPU and a fair share of CPU threads),
restarts one that dies while work remains, re-runs a trial whose worker was lost, and
reports finished trials to the run's listener by watching the storage. Workers send their
warnings back on a queue, so the run's warnings (hpopt.run_warnings) include theirs.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from hpopt import interrupts
from hpopt.trial_record import STOPPED_BY_SERVER, stop_reason_of

if TYPE_CHECKING:
    import optuna

    from hpopt.config import OptimizationConfig
    from hpopt.events import RunListener
    from hpopt.run_clock import RunClock
    from hpopt.run_warnings import WarningCollector

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 60
FINISHED_STATES = ("COMPLETE", "PRUNED", "FAIL")


def signal_for_workers(stop_reason: str) -> int:
    """The signal that tells worker processes why the run stops, so their cut trials read as ours
    do: SIGINT for a user's stop (Ctrl-C, an API stop), SIGTERM when the server went away."""
    return signal.SIGTERM if stop_reason_of(stop_reason) == STOPPED_BY_SERVER else signal.SIGINT


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists."""
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [g for g in declared.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def worker_environment(index: int, workers: int, gpus: list[str], assign_gpus: bool) -> dict[str, str]:
    """Environment of worker ``index``: its own GPU, and CPU threads split so workers do not fight."""
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": threads,
           "HYPEROPT_WORKER_INDEX": str(index)}
    if assign_gpus and gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    return env


def _worker_main(config: "OptimizationConfig", study_name: str, run_dir: str, env: dict[str, str],
                 log_file: Optional[str], clock: "RunClock",
                 warnings: "Optional[multiprocessing.queues.Queue]" = None) -> None:
    """Entry of a worker process (spawned: nothing inherited but its arguments)."""
    os.environ.update(env)  # before TensorFlow is imported
    from hpopt import interrupts

    interrupts.install()
    if warnings is not None:
        from logging.handlers import QueueHandler

        from hpopt.run_warnings import LOGGER

        forward = QueueHandler(warnings)
        forward.setLevel(logging.WARNING)
        logging.getLogger(LOGGER).addHandler(forward)
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        from hpopt.masking import MaskingFormatter

        handler.setFormatter(MaskingFormatter(
            f"%(asctime)s %(levelname)-7s worker{env['HYPEROPT_WORKER_INDEX']} %(name)s: %(message)s"))
        handler.setLevel(getattr(logging, config.log_level))  # as the CLI's own log file
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(getattr(logging, config.log_level))
        for name in ("PIL", "urllib3", "h5py", "fsspec", "matplotlib"):  # as the CLI: no byte-level chatter
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.INFO)
    try:
        from hpopt.events import RunListener
        from hpopt.study import open_study
        from hpopt.trial_loop import data_shape, load_run_data, optimize_in_process, route_optuna_logs

        route_optuna_logs()
        dataset = load_run_data(config)
        study = open_study(config, study_name, worker_index=int(env["HYPEROPT_WORKER_INDEX"]))
        optimize_in_process(config, study, dataset, data_shape(dataset), Path(run_dir), RunListener(), clock)
    except KeyboardInterrupt:
        raise SystemExit(130)


class WorkerPool:
    """The worker processes of one run, supervised until the study is done."""

    def __init__(self, config: "OptimizationConfig", study: "optuna.Study", run_dir: Path,
                 listener: "RunListener", clock: "RunClock", warnings: Optional["WarningCollector"] = None) -> None:
        self.config = config
        self.clock = clock  # one deadline for every worker
        self.study = study
        self.run_dir = run_dir
        self.listener = listener
        self.context = multiprocessing.get_context("spawn")
        self.gpus = visible_gpus()
        self.processes: dict[int, multiprocessing.process.BaseProcess] = {}
        self.reported: set[int] = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
        self.restarts = 0
        self.log_file = self._log_file()
        self.warnings = warnings
        self.warning_queue = self.context.Queue() if warnings is not None else None

    @staticmethod
    def _log_file() -> Optional[str]:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.FileHandler):
                return handler.baseFilename
        return None

    def start(self, index: int) -> None:
        env = worker_environment(index, self.config.workers, self.gpus, self.config.assign_gpus_to_workers)
        process = self.context.Process(
            target=_worker_main, name=f"hpopt-worker-{index}",
            args=(self.config, self.study.study_name, str(self.run_dir), env, self.log_file, self.clock,
                  self.warning_queue))
        process.start()
        self.processes[index] = process
        logger.info("worker %d started (pid %s%s)", index, process.pid,
                    f", GPU {env['CUDA_VISIBLE_DEVICES']}" if "CUDA_VISIBLE_DEVICES" in env else "")

    def work_remains(self) -> bool:
        from hpopt.study import counted_trials
        from hpopt.target import stopped_reason

        if stopped_reason(self.study, self.config.target_value) is not None:
            return False  # target_value reached: no restarted worker, no re-run round
        waiting = any(t.state.name == "WAITING" for t in self.study.get_trials(deepcopy=False))
        return waiting or counted_trials(self.study, in_flight=True) < self.config.trials

    def report_finished(self) -> None:
        from hpopt.results import trial_row
        from hpopt.study import gave_way

        for trial in self.study.get_trials(deepcopy=False):
            if trial.state.is_finished() and trial.number not in self.reported:
                self.reported.add(trial.number)
                if not gave_way(trial):
                    self.listener.on_trial_finished(trial_row(trial))

    def forward_warnings(self) -> None:
        """The workers' warnings, into the run's list (they are in the shared log file already)."""
        if self.warning_queue is None or self.warnings is None:
            return
        while True:
            try:
                record = self.warning_queue.get_nowait()
            except (queue.Empty, OSError, EOFError, ValueError):
                return
            self.warnings.handle(record)

    def supervise(self) -> None:
        """Wait for the workers; replace a dead one while work remains."""
        from hpopt import interrupts

        while self.processes:
            time.sleep(POLL_SECONDS)
            if interrupts.stop_requested():
                raise KeyboardInterrupt
            self.report_finished()
            self.forward_warnings()
            for index, process in list(self.processes.items()):
                if process.exitcode is None:
                    continue
                del self.processes[index]
                if process.exitcode != 0:
                    logger.warning("worker %d (pid %s) ended with exit code %s", index, process.pid, process.exitcode)
                    from hpopt.study import fail_dead_trials

                    fail_dead_trials(self.study)  # its trial: failed and queued again now, not after heartbeats
                    if self.restarts < 2 * self.config.workers and self.work_remains():
                        self.restarts += 1
                        self.start(index)
        self.report_finished()
        self.forward_warnings()

    def recover_lost_trials(self) -> bool:
        """Fail trials whose worker died so they are re-run: at once when the worker provably
        died here, else once their heartbeat is stale (a trial that never named its worker)."""
        from optuna.storages import fail_stale_trials

        from hpopt.study import WORKER_ATTR, fail_dead_trials

        recovered = bool(fail_dead_trials(self.study))
        lost = [t for t in self.study.get_trials(deepcopy=False) if t.state.name == "RUNNING"
                and not t.user_attrs.get(WORKER_ATTR)]
        if not lost:
            return recovered
        deadline = time.monotonic() + 4 * self.config.heartbeat_interval_s + 10
        logger.warning("trials %s lost their worker; waiting for their heartbeat to go stale",
                       [t.number for t in lost])
        while time.monotonic() < deadline:
            fail_stale_trials(self.study)
            if not any(self.study.get_trials(deepcopy=False)[t.number].state.name == "RUNNING" for t in lost):
                return True
            time.sleep(1)
        return False

    def stop(self) -> None:
        """Ctrl-C, an API stop or the server going away: pass the stop on, then kill what does
        not end in time."""
        passed_on = signal_for_workers(interrupts.STOP.reason)
        for process in self.processes.values():
            if process.exitcode is None and process.pid:
                try:
                    os.kill(process.pid, passed_on)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
        self.forward_warnings()


def run_worker_pool(config: "OptimizationConfig", study: "optuna.Study", run_dir: Path,
                    listener: "RunListener", clock: "RunClock", warnings: Optional["WarningCollector"] = None) -> None:
    """Run the study on ``config.workers`` processes until it holds ``config.trials`` trials
    or the run's deadline passes; the workers' warnings go to ``warnings``."""
    pool = WorkerPool(config, study, run_dir, listener, clock, warnings)
    try:
        for _ in range(3):  # a round, then again if a lost trial was re-queued after the last worker ended
            for index in range(config.workers):
                pool.start(index)
            pool.supervise()
            if not (pool.recover_lost_trials() and pool.work_remains()):
                break
    except KeyboardInterrupt:
        pool.stop()
        raise
