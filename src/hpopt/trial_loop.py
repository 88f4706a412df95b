"""The trial loop of one process: its data, an executor, the objective, ``study.optimize``.

The runner (one run, end to end) and each worker process of ``workers=N`` run trials the
same way; both import this module, so neither needs the other.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import optuna

from hpopt.best_so_far import BestSoFar
from hpopt.datasets import load_dataset
from hpopt.events import RunListener
from hpopt.results import trial_row
from hpopt.run_clock import RunClock
from hpopt.scoring import study_directions
from hpopt.spec import DataShape
from hpopt.study import StopAtCap, gave_way
from hpopt.target import StopAtTarget
from hpopt.tracking import make_tracking
from hpopt.trial_objective import TrialFailed, TrialObjective

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)


def load_run_data(config: "OptimizationConfig"):
    """The dataset with its splits, as configured."""
    return load_dataset(config.dataset, data_dir=config.data_dir, **config.split_options())


def data_shape(dataset: Any) -> DataShape:
    return DataShape(
        modality=dataset.modality,
        input_shape=tuple(int(d) for d in dataset.input_shape),
        num_classes=dataset.num_classes,
        vocab_size=dataset.vocab_size,
    )


def make_executor(config: "OptimizationConfig"):
    """Local training; the GPU proxy executor when use_gpu_proxy is set."""
    if config.use_gpu_proxy:
        from hpopt.executors.gpu_proxy import make_gpu_proxy_executor

        return make_gpu_proxy_executor(config)
    from hpopt.executors.local import LocalExecutor

    return LocalExecutor()


def route_optuna_logs() -> None:
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def best_so_far_for(config: "OptimizationConfig", run_dir: Path, clock: RunClock) -> Optional[BestSoFar]:
    """The per-epoch best-model keeper; none for pareto mode (a front has no single best)."""
    if config.mode == "pareto":
        return None
    maximize = study_directions(config.mode, config.optimize_for)[0] == "maximize"
    return BestSoFar(run_dir, clock, maximize=maximize, save_models=config.save_best_model)


def optimize_in_process(config: "OptimizationConfig", study: optuna.Study, dataset: Any, shape: DataShape,
                        run_dir: Path, listener: RunListener, clock: Optional[RunClock] = None) -> None:
    """Run trials in this process until the study holds ``config.trials`` trials (all workers
    together), the search deadline passes (the running trial stops at a batch end), or Ctrl-C."""
    clock = clock or RunClock.start(config.timeout_hours)
    time_left = clock.search_time_left()
    if time_left is not None and time_left <= 0:
        logger.warning("no time left for trials: the run's deadline (timeout_hours) has passed")
        return
    executor = make_executor(config)
    objective = TrialObjective(config, dataset, shape, executor, run_dir, listener, clock,
                               best_so_far_for(config, run_dir, clock))

    def notify(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not gave_way(trial):
            listener.on_trial_finished(trial_row(trial))

    tracking = make_tracking(config, run_dir, study.study_name)  # tracking=: TensorBoard / MLflow

    # TensorFlow leaves ~10^6 long-lived objects; each trial's clear_session and gc.collect would
    # walk them all (0.25 s per collection on a CLI run, seconds in a long-lived process). Frozen
    # now, a collection only walks what the trials create.
    gc.freeze()
    try:
        study.optimize(
            objective,
            timeout=clock.search_time_left(),  # now: set-up above took some of it
            catch=(TrialFailed,),
            callbacks=[notify, *([tracking] if tracking else []), StopAtCap(config.trials),
                       StopAtTarget(config.target_value)],
            n_jobs=getattr(executor, "concurrency", 1),  # remote executors keep several trials in flight
        )
    finally:
        gc.unfreeze()
        getattr(executor, "close", lambda: None)()  # cancels remote jobs still in flight
