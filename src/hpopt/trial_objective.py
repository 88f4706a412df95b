"""The Optuna objective: sample a spec, run it on an executor, score it, keep its artifacts."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import optuna

from hpopt import interrupts
from hpopt.best_so_far import BestSoFar
from hpopt.class_weights import resolve_class_weight
from hpopt.events import RunListener
from hpopt.identity import pid_namespace, worker_name
from hpopt.jsonutil import write_json
from hpopt.layout import RunLayout
from hpopt.optuna_reporter import OptunaReporter
from hpopt.run_clock import RunClock, utc_stamp
from hpopt.scoring import improves, prunable, score_breakdown, trial_value
from hpopt.search_space import suggest_trial_spec
from hpopt.spec import DataShape, TrialSpec
from hpopt.study import over_cap, repeated_configuration
from hpopt.trial_record import (
    AFTER_DEADLINE_ATTR,
    CLAIM_ATTR,
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    OVER_CAP_ATTR,
    SCORE_ATTR,
    STOP_REASON_ATTR,
    WORKER_ATTR,
    WORKER_NS_ATTR,
    TrialRecord,
    stop_reason_of,
)

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig
    from hpopt.executors import Executor
    from hpopt.training import TrainingData

logger = logging.getLogger(__name__)

# Samples in a row that repeat a configuration before this worker calls the space exhausted.
MAX_REPEATS_IN_A_ROW = 20


class TrialFailed(Exception):
    """A trial that diverged or crashed: recorded as FAIL, the study goes on."""


def pruning_applies(config: "OptimizationConfig") -> bool:
    """The pruner compares each epoch's objective value, so it acts only where that exists."""
    return config.pruner != "none" and prunable(config.mode, config.optimize_for)


class TrialObjective:
    """Callable passed to ``study.optimize``; one instance per run."""

    def __init__(self, config: "OptimizationConfig", data: "TrainingData", data_shape: DataShape,
                 executor: "Executor", run_dir: Path, listener: Optional[RunListener] = None,
                 clock: Optional[RunClock] = None, best: Optional[BestSoFar] = None) -> None:
        self.config = config
        self.clock = clock or RunClock.start(None)
        self.best = best
        self.data = data
        self.data_shape = data_shape
        self.executor = executor
        self.run_dir = run_dir
        self.listener = listener or RunListener()
        self.prune = pruning_applies(config)
        self.repeats_in_a_row = 0
        # Resolved once from the training split here (the runner logs the decision); every spec
        # carries the weights, so the GPU worker's fit weighs classes exactly as local training.
        self.class_weight = resolve_class_weight(config.class_weight, data.y_train, data_shape.num_classes).weights

    def __call__(self, trial: optuna.Trial) -> Union[float, tuple[float, float]]:
        self._admit(trial)
        spec = self._spec_for(trial)
        trial.set_user_attr(CLAIM_ATTR, utc_stamp())
        # From here a process that dies leaves a trial naming its dead worker, which the next start
        # fails and re-runs with these parameters at once (study.fail_dead_trials); set only once
        # sampled, so a trial that names its worker always has a configuration to re-run.
        trial.set_user_attr(WORKER_ATTR, worker_name())
        trial.set_user_attr(WORKER_NS_ATTR, pid_namespace())
        self._give_way_if_repeated(trial)
        self.listener.on_trial_started(trial.number, dict(trial.params))
        started = time.perf_counter()
        result = self._train(trial, spec, started)
        self._record(trial, result, started, failure=result.failure)
        self._write_details(trial.number, spec.model_dump(mode="json"), result)
        return self._conclude(trial, result)

    def _admit(self, trial: optuna.Trial) -> None:
        """Start no trial after a stop request, nor over the study's cap."""
        try:
            interrupts.check()  # a stop requested between trials: start no new one
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            raise
        if over_cap(trial.study, trial.number, self.config.trials):
            # Another worker started the last allowed trial in the same instant: give way.
            trial.set_user_attr(OVER_CAP_ATTR, True)
            trial.study.stop()
            raise TrialFailed(f"trial {trial.number} is over the study's cap of {self.config.trials} trials")

    def _spec_for(self, trial: optuna.Trial) -> "TrialSpec":
        """The sampled spec, with the time left before the run's deadline as its time limit."""
        spec = suggest_trial_spec(trial, self.config, self.data_shape)
        if self.class_weight is not None:  # validated: ids within the classes, weights finite and > 0
            spec = TrialSpec.model_validate({**spec.model_dump(), "class_weight": self.class_weight})
        time_left = self.clock.search_time_left()
        if time_left is None:
            return spec
        if time_left <= 0:  # sampled in the instant the deadline passed: give way, untrained
            trial.set_user_attr(AFTER_DEADLINE_ATTR, True)
            trial.study.stop()
            raise TrialFailed(f"trial {trial.number} would start after the run's deadline")
        has_model = bool(trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        return spec.model_copy(update={"time_limit_s": time_left, "partial_epoch_at_deadline": not has_model})

    def _train(self, trial: optuna.Trial, spec: "TrialSpec", started: float) -> Any:
        """Run the spec on the executor; a crash fails this trial, not the study."""
        try:
            reporter = OptunaReporter(trial, self.listener, self.prune, spec.epochs, self.best)
            return self.executor.run(spec, self.data, reporter)
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            trial.set_user_attr(STOP_REASON_ATTR, stop_reason_of(interrupts.STOP.reason))  # state "stopped"
            trial.set_user_attr("finished_at", utc_stamp())
            raise
        except Exception as error:  # a crashing trial (OOM, bad shapes) must not end the study
            if getattr(error, "stops_run", False):  # ...unless the executor says the run cannot go on
                self._record(trial, None, started, failure=str(error))
                raise
            logger.exception("trial %d crashed", trial.number)
            self._record(trial, None, started, failure=f"{type(error).__name__}: {error}")
            raise TrialFailed(f"{type(error).__name__}: {error}") from error

    def _conclude(self, trial: optuna.Trial, result: Any) -> Union[float, tuple[float, float]]:
        """The trial's state from its result: pruned, failed, or its value (and its model kept if best)."""
        if result.stop_reason:
            trial.set_user_attr(STOP_REASON_ATTR, result.stop_reason)
        if result.status == "no_learning":
            trial.set_user_attr(STOP_REASON_ATTR, "no_learning")
            raise optuna.TrialPruned(f"no learning: still at chance level after epoch {result.epochs_run}")
        if result.status == "pruned":
            raise optuna.TrialPruned(f"pruned after epoch {result.epochs_run}")
        if result.status == "failed":
            raise TrialFailed(result.failure or "trial failed")
        value = trial_value(self.config.mode, self.config.optimize_for, self.config.health_weight, result)
        trial.set_user_attr(SCORE_ATTR, score_breakdown(self.config.optimize_for, self.config.health_weight, result))
        if self.config.save_best_model and result.model is not None and self._is_best_so_far(trial.study, value):
            path = RunLayout(self.run_dir).trial_model(trial.number)
            path.parent.mkdir(parents=True, exist_ok=True)
            result.model.save(path)
        return value

    def _give_way_if_repeated(self, trial: optuna.Trial) -> None:
        """A configuration that already ran (or runs now) is not trained again: the trial ends
        as failed with ``duplicate_of`` and does not count towards the cap."""
        original = repeated_configuration(trial.study.get_trials(deepcopy=False), trial.number, trial.params)
        if original is None:
            self.repeats_in_a_row = 0
            return
        trial.set_user_attr(DUPLICATE_ATTR, original)
        self.repeats_in_a_row += 1
        logger.info("trial %d repeats the configuration of trial %d: not trained", trial.number, original)
        if self.repeats_in_a_row >= MAX_REPEATS_IN_A_ROW:
            logger.warning("the search space is exhausted: %d samples in a row repeated configurations that "
                           "already ran; stopping the study (widen the space, e.g. leave activation unset, "
                           "or lower trials)", self.repeats_in_a_row)
            trial.study.stop()
        raise TrialFailed(f"trial {trial.number} repeats the configuration of trial {original}")

    def _record(self, trial: optuna.Trial, result: Any, started: float, failure: Optional[str]) -> None:
        TrialRecord.of(result, finished_at=utc_stamp(), duration_s=time.perf_counter() - started, failure=failure,
                       execution=getattr(self.executor, "name", "local")).store(trial)

    def _write_details(self, number: int, spec: dict[str, Any], result: Any) -> None:
        """Full per-trial record (raw health snapshots included) for per-trial plots."""
        details = {
            "number": number,
            "spec": spec,
            "status": result.status,
            "history": [r.model_dump() for r in result.history],
            "health": result.health,
            "snapshots": result.snapshots,
            "architecture": result.architecture,
        }
        write_json(RunLayout(self.run_dir).trial_details(number), details)

    def _is_best_so_far(self, study: optuna.Study, value: Union[float, tuple]) -> bool:
        if self.config.mode == "pareto":
            return True  # the front can change with any trial; the runner keeps the front's models
        try:
            best = study.best_value
        except ValueError:
            return True
        return improves(value, best, "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE
                        else "minimize")

