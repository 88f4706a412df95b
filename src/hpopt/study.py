"""The Optuna study: sampler, pruner, storage and resume.

Studies are plain Optuna studies in plain Optuna storage (a SQLite file in results_dir
by default), so ``optuna-dashboard <storage>`` shows them and a second run with the same
study name resumes where the first stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from hpopt.objectives import study_directions

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_FILE = "hpopt_studies.db"
INTERRUPTED_ATTR = "interrupted"
FINGERPRINT_KEYS = ("dataset", "mode", "optimize_for", "health_weight", "activation",
                    "min_epochs_per_trial", "max_epochs_per_trial")


class StudyMismatchError(ValueError):
    """Resuming a study with settings that would mix incomparable trials."""

    exit_code = 2


def storage_url(config: "OptimizationConfig") -> str:
    """The configured Optuna storage, or a SQLite file in results_dir."""
    if config.storage:
        return config.storage
    path = Path(config.results_dir).expanduser().resolve() / DEFAULT_STORAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_sampler(config: "OptimizationConfig") -> optuna.samplers.BaseSampler:
    """Seeded sampler; n_startup_trials random trials before TPE/CMA-ES model the space."""
    seed = config.random_seed
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


def open_study(config: "OptimizationConfig", study_name: str) -> optuna.Study:
    """Create the study, or load it to resume when one of that name exists in the storage."""
    directions = study_directions(config.mode, config.optimize_for)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage_url(config),
        sampler=make_sampler(config),
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


def counted_trials(study: optuna.Study) -> int:
    """Trials that count towards the trials cap: finished ones, except those cut by Ctrl-C."""
    count = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            count += 1
        elif trial.state == TrialState.FAIL and not trial.user_attrs.get(INTERRUPTED_ATTR):
            count += 1
    return count
