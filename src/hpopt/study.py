"""The Optuna study: sampler, pruner, storage and resume.

Studies are plain Optuna studies in plain Optuna storage (a SQLite file in results_dir
by default), so ``optuna-dashboard <storage>`` shows them and a second run with the same
study name resumes where the first stopped.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import sqlalchemy.exc
from optuna.trial import TrialState

from hpopt.objectives import study_directions

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)
# Heartbeats and retries are "experimental" in Optuna since v2.8; they are what makes
# workers survivable, and their warnings would only add noise to every run.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

DEFAULT_STORAGE_FILE = "hpopt_studies.db"
INTERRUPTED_ATTR = "interrupted"
OVER_CAP_ATTR = "over_cap"
STORAGE_ATTEMPTS = 5
FINGERPRINT_KEYS = ("dataset", "mode", "optimize_for", "health_weight", "activation",
                    "min_epochs_per_trial", "max_epochs_per_trial")


class StudyMismatchError(ValueError):
    """Resuming a study with settings that would mix incomparable trials."""

    exit_code = 2


def make_storage(config: "OptimizationConfig") -> optuna.storages.BaseStorage:
    """Optuna RDB storage with heartbeats: a trial whose worker died (kill -9, lost machine)
    is marked FAIL after the grace period and re-run once by another worker.

    SQLite gets a long busy timeout so several local worker processes can share the file.
    """
    url = storage_url(config)
    engine_kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    heartbeat = max(1, int(config.heartbeat_interval_s))
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat,
                grace_period=heartbeat * 3,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
        except sqlalchemy.exc.SQLAlchemyError as error:
            # Workers started together on a fresh database race to create Optuna's tables;
            # the loser sees a duplicate and succeeds on the next try.
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            logger.info("storage not ready (%s); retrying", type(error).__name__)
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def storage_url(config: "OptimizationConfig") -> str:
    """The configured Optuna storage, or a SQLite file in results_dir."""
    if config.storage:
        return config.storage
    path = Path(config.results_dir).expanduser().resolve() / DEFAULT_STORAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_sampler(config: "OptimizationConfig", worker_index: int = 0) -> optuna.samplers.BaseSampler:
    """Seeded sampler; n_startup_trials random trials before TPE/CMA-ES model the space.

    Each worker of a shared study gets its own seed, or they would all sample the same
    parameters (TPE's constant liar then spreads their concurrent trials apart).
    """
    seed = config.random_seed + 7919 * worker_index
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=config.n_startup_trials, warn_independent_sampling=False
        )
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.n_startup_trials)


def make_pruner(config: "OptimizationConfig") -> optuna.pruners.BasePruner:
    """Pruners act on the per-epoch validation accuracy (multi-objective studies cannot prune)."""
    if config.pruner == "none" or config.mode == "pareto":
        return optuna.pruners.NopPruner()
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, config.min_epochs_per_trial // 2 or 1),
            max_resource=config.max_epochs_per_trial,
            reduction_factor=3,
        )
    return optuna.pruners.MedianPruner(
        n_startup_trials=config.n_startup_trials, n_warmup_steps=config.n_warmup_steps
    )


def _fingerprint(config: "OptimizationConfig") -> dict:
    data = config.to_dict()
    return {key: data.get(key) for key in FINGERPRINT_KEYS}


def open_study(config: "OptimizationConfig", study_name: str, worker_index: int = 0) -> optuna.Study:
    """Create the study, or load it to resume when one of that name exists in the storage."""
    directions = study_directions(config.mode, config.optimize_for)
    study = optuna.create_study(
        study_name=study_name,
        storage=make_storage(config),
        sampler=make_sampler(config, worker_index),
        pruner=make_pruner(config),
        directions=directions,
        load_if_exists=True,
    )
    fingerprint = _fingerprint(config)
    stored = study.user_attrs.get("hpopt_fingerprint")
    if stored is None:
        study.set_user_attr("hpopt_fingerprint", fingerprint)
        study.set_user_attr("hpopt_config", config.to_dict())
    elif stored != fingerprint:
        changed = {k: (stored.get(k), fingerprint[k]) for k in fingerprint if stored.get(k) != fingerprint[k]}
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise StudyMismatchError(
            f"study '{study_name}' already exists with other settings ({details}); "
            "use another run_name/study_name, or the original settings to resume it"
        )
    elif len(study.trials):
        logger.info("resuming study '%s' with %d existing trials", study_name, len(study.trials))
    return study


def retried_numbers(trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """Trial number of a lost trial -> number of the trial that re-runs it."""
    retried = {}
    for trial in trials:
        original = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
        if original is not None:
            retried[original] = trial.number
    return retried


def counts_towards_cap(trial: optuna.trial.FrozenTrial, retried: dict[int, int], *, in_flight: bool) -> bool:
    """Finished trials count, except those cut by Ctrl-C, lost and re-run, or over the cap;
    with ``in_flight`` running and queued trials count too (they will finish)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        return not (trial.user_attrs.get(INTERRUPTED_ATTR) or trial.user_attrs.get(OVER_CAP_ATTR)
                    or trial.number in retried)
    return in_flight and trial.state in (TrialState.RUNNING, TrialState.WAITING)


def counted_trials(study: optuna.Study, *, in_flight: bool = False) -> int:
    """Trials that count towards the trials cap (see counts_towards_cap)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    return sum(counts_towards_cap(t, retried, in_flight=in_flight) for t in trials)
