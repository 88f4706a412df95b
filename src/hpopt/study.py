"""The Optuna study: sampler, pruner, storage and resume.

Studies are plain Optuna studies in plain Optuna storage (a SQLite file in results_dir
by default), so ``optuna-dashboard <storage>`` shows them and a second run with the same
study name resumes where the first stopped.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import optuna
import sqlalchemy.exc
from optuna.trial import TrialState

from hpopt import layout
from hpopt.identity import worker_gone, worker_name
from hpopt.scoring import study_directions
from hpopt.trial_record import (
    AFTER_DEADLINE_ATTR,
    CLAIM_ATTR,
    DIED_ATTR,
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    OVER_CAP_ATTR,
    WORKER_ATTR,
    WORKER_NS_ATTR,
)

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)
# Heartbeats and retries are "experimental" in Optuna since v2.8; they are what makes
# workers survivable, and their warnings would only add noise to every run.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

FINGERPRINT_ATTR = "hpopt_fingerprint"
STORAGE_ATTEMPTS = 5
# Settings a resumed study must share with the run that created it: what the trials are
# scored on, and everything that decides the data and its splits (a changed seed or split
# would score the best trial on a test split that overlaps its training data).
FINGERPRINT_KEYS = ("dataset", "mode", "optimize_for", "health_weight", "activation",
                    "min_epochs_per_trial", "max_epochs_per_trial",
                    "random_seed", "validation_split", "test_size", "data_dir", "image_size",
                    "sequence_length", "vocab_size", "min_steps_per_epoch", "search_space", "class_weight")


class StudyMismatchError(ValueError):
    """Resuming a study with settings that would mix incomparable trials."""

    exit_code = 2


class RetryLostTrial(optuna.storages.RetryHeartbeatStaleTrialCallback):
    """Optuna's re-run of a lost trial (same parameters, queued as WAITING, at most once)
    without the lost trial's user attributes: they describe the dead attempt (its worker, its
    claim, why it failed), and a re-run still naming a dead worker would look dead itself."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        fresh = copy.copy(trial)
        fresh.user_attrs = {}
        super().__call__(study, fresh)


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
                heartbeat_stale_trial_callback=RetryLostTrial(max_retry=1),
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
    """The configured Optuna storage, or a SQLite file in results_dir (hpopt.layout)."""
    return layout.storage_url(config.storage, config.results_dir)


def sampler_seed(config: "OptimizationConfig", worker_index: int, *, created: bool, existing_trials: int) -> int:
    """The sampler's seed for one process opening the study.

    The process that creates a study seeds worker 0 with ``random_seed`` (a fresh study run
    by one process is reproducible). Every other opening (a resumed run, a pool worker, a
    replacement worker, another machine) mixes in the trials already in the study, the
    worker index, host and pid: a fixed seed would redraw configurations that already ran.
    """
    if created:
        return config.random_seed + 7919 * worker_index
    key = f"{config.random_seed}/{existing_trials}/{worker_index}/{worker_name()}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def make_sampler(config: "OptimizationConfig", seed: int) -> optuna.samplers.BaseSampler:
    """Seeded sampler; n_startup_trials random trials before TPE/CMA-ES model the space.

    Each process gets its own seed (see sampler_seed), or they would all sample the same
    parameters.
    """
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
    from hpopt.gpu_proxy.pruning import MedianRule, SchedulableMedianPruner

    return SchedulableMedianPruner(MedianRule(n_startup_trials=config.n_startup_trials,
                                              n_warmup_steps=config.n_warmup_steps))


def _fingerprint(config: "OptimizationConfig") -> dict[str, Any]:
    data = config.to_dict()
    fingerprint = {key: data.get(key) for key in FINGERPRINT_KEYS}
    if fingerprint["data_dir"] is not None:  # ./data and /home/me/data are the same folder
        fingerprint["data_dir"] = str(Path(fingerprint["data_dir"]).expanduser().resolve())
    return fingerprint


def check_fingerprint(study: optuna.Study, config: "OptimizationConfig") -> None:
    """Refuse to resume a study with settings that would mix incomparable trials.

    A key missing from the stored fingerprint (a study created by an older hpopt) is
    unknown, not a change: the run goes on and completes the stored fingerprint.
    """
    fingerprint = _fingerprint(config)
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
        study.set_user_attr("hpopt_config", config.to_dict())
        return
    changed = [key for key, value in fingerprint.items() if key in stored and stored[key] != value]
    if changed:
        details = "; ".join(f"{key} was {stored[key]!r}, now {fingerprint[key]!r}" for key in changed)
        raise StudyMismatchError(
            f"cannot resume study '{study.study_name}' with other settings ({details}): resume it with "
            "the original settings, or start a new study with another run_name/study_name"
        )
    if any(key not in stored for key in fingerprint):
        study.set_user_attr(FINGERPRINT_ATTR, {**stored, **fingerprint})


def open_study(config: "OptimizationConfig", study_name: str, worker_index: int = 0) -> optuna.Study:
    """Create the study, or load it to resume when one of that name exists in the storage."""
    return open_or_create_study(config, study_name, worker_index)[0]


def open_or_create_study(config: "OptimizationConfig", study_name: str,
                         worker_index: int = 0) -> tuple[optuna.Study, bool]:
    """open_study, and whether this call created the study (exactly one process does, however
    many start together: only it enqueues the warm-start baseline)."""
    storage = make_storage(config)
    try:
        study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            sampler=make_sampler(config, sampler_seed(config, worker_index, created=True, existing_trials=0)),
            pruner=make_pruner(config),
            directions=study_directions(config.mode, config.optimize_for),
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=make_pruner(config))
        check_fingerprint(study, config)
        existing = len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(
            config, sampler_seed(config, worker_index, created=False, existing_trials=existing))
        if existing:
            logger.info("resuming study '%s' with %d existing trials", study_name, existing)
        return study, False
    check_fingerprint(study, config)
    return study, True


def retried_numbers(trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """Trial number of a lost trial -> number of the trial that re-runs it."""
    retried = {}
    for trial in trials:
        original = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
        if original is not None:
            retried[original] = trial.number
    return retried


def gave_way(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial that ended untrained because it was over the cap, after the deadline, repeated a
    configuration or met a stop before it sampled: not a trial of the run (never counted, never
    listed in summaries)."""
    attrs = trial.user_attrs
    stopped_unsampled = bool(attrs.get(INTERRUPTED_ATTR)) and CLAIM_ATTR not in attrs
    return (bool(attrs.get(OVER_CAP_ATTR) or attrs.get(AFTER_DEADLINE_ATTR)) or attrs.get(DUPLICATE_ATTR) is not None
            or stopped_unsampled)


def counts_towards_cap(trial: optuna.trial.FrozenTrial, retried: dict[int, int], *, in_flight: bool) -> bool:
    """Finished trials count, except those cut by Ctrl-C, lost and re-run, whose worker died, over the cap or
    repeating a configuration; with ``in_flight`` running and queued trials count too (they
    will finish)."""
    if gave_way(trial):
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    if trial.state == TrialState.FAIL:
        return not (trial.user_attrs.get(INTERRUPTED_ATTR) or trial.user_attrs.get(DIED_ATTR)
                    or trial.number in retried)
    return in_flight and trial.state in (TrialState.RUNNING, TrialState.WAITING)


def repeated_configuration(trials: list[optuna.trial.FrozenTrial], number: int,
                           params: dict[str, Any]) -> Optional[int]:
    """The trial whose configuration trial ``number`` (just sampled) repeats, or None.

    A configuration is taken by a finished (complete or pruned) trial, or by a running one
    that has claimed it (CLAIM_ATTR, set before this check). Two workers that sample the
    same configuration at the same instant may both see each other's claim and both give
    way: at worst it is not trained this time, never twice. Enqueued trials (warm start, ``study.enqueue_trial``,
    re-runs of lost trials) run the parameters they were given and are never repeats.
    """
    own = next((t for t in trials if t.number == number), None)
    if own is not None and "fixed_params" in own.system_attrs:
        return None
    for trial in trials:
        if trial.number == number or gave_way(trial) or trial.params != params:
            continue
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return trial.number
        if trial.state == TrialState.RUNNING and CLAIM_ATTR in trial.user_attrs:
            return trial.number
    return None


def counted_trials(study: optuna.Study, *, in_flight: bool = False) -> int:
    """Trials that count towards the trials cap (see counts_towards_cap)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    return sum(counts_towards_cap(t, retried, in_flight=in_flight) for t in trials)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail, at once, the running trials whose worker provably died (identity.worker_gone:
    same host, process gone), and queue their re-run as a lost trial's; returns their numbers.

    A kill -9, an OOM kill or a power cut leaves a trial RUNNING in storage; heartbeats only
    notice it after 3 intervals, and only while some process optimizes the study. Called when
    a run starts (CLI, API job, resume) and when a pool worker dies, so a dead trial never shows
    as running nor counts towards ``trials``. Trials of other hosts wait for their heartbeat.
    """
    storage = study._storage  # Optuna has no public call to set another process's trial's attributes
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if not worker_gone(worker, trial.user_attrs.get(WORKER_NS_ATTR)):
            continue
        reason = f"worker {worker} died; failed at the next start"
        try:
            storage.set_trial_user_attr(trial._trial_id, "failure", reason)
            storage.set_trial_user_attr(trial._trial_id, DIED_ATTR, True)
            study.tell(trial.number, state=TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            continue  # another process opening the study failed it first (and queued its re-run)
        failed.append(trial.number)
        logger.warning("trial %d: %s", trial.number, reason)
        retry = storage.get_heartbeat_stale_trial_callback() if hasattr(
            storage, "get_heartbeat_stale_trial_callback") else None
        if retry is not None:
            retry(study, storage.get_trial(trial._trial_id))
    return failed


# ----------------------------------------------------------------------------- the trials cap

def over_cap(study: optuna.Study, number: int, cap: int) -> bool:
    """Whether trial ``number`` comes after ``cap`` trials that count (finished or in flight)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    ahead = sum(1 for t in trials if t.number < number and counts_towards_cap(t, retried, in_flight=True))
    return ahead >= cap


class StopAtCap:
    """Optuna callback: stop this worker once the study's trials (finished or in flight) reach the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
        # Enqueued (WAITING) trials are work still to do, not a reason to stop.
        started = [t for t in trials if t.state != optuna.trial.TrialState.WAITING]
        if sum(counts_towards_cap(t, retried, in_flight=True) for t in started) >= self.cap:
            study.stop()
