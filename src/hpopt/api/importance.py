"""Hyperparameter importances of a job's study, computed by Optuna (no TensorFlow).

The job's Optuna study is read from its storage, as the runner's param_importances plot
does, so the numbers match that plot. Computing them costs tens of milliseconds to a
few seconds (loading the study), so it runs in a thread and the answer is cached until
another trial of the job finishes.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from hpopt.api.job_cache import JobAnswerCache
from hpopt.api.job_study import job_storage_url, load_job_study
from hpopt.jobs.store import JobRecord

__all__ = ["ImportanceCache", "compute_importances"]

logger = logging.getLogger(__name__)
METHOD = "Optuna's default importance evaluator (optuna.importance.get_param_importances)"


def compute_importances(record: JobRecord, results_dir: Path) -> dict[str, Any]:
    """{method, target, n_trials, importances: [{param, importance}], reason}; never raises."""
    out: dict[str, Any] = {"method": METHOD, "target": "value", "n_trials": 0, "importances": [], "reason": None}
    storage = job_storage_url(record.config, results_dir)
    if storage is None:
        return dict(out, reason="the job has not started a trial yet")
    try:
        import optuna

        study = load_job_study(record, storage)
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        out["n_trials"] = len(complete)
        target = None
        if len(study.directions) > 1:
            target, out["target"] = (lambda t: t.values[0]), "first objective (val_accuracy)"
        if len(complete) < 2:
            return dict(out, reason=f"{len(complete)} complete trial(s): importances need at least 2")
        with warnings.catch_warnings():  # few trials: Optuna warns that the estimate is rough; we say so in the UI
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, target=target)
    except KeyError:
        return dict(out, reason="the job's study is not in its storage (not started, or deleted)")
    except Exception as exc:  # noqa: BLE001 - e.g. a search space with no parameter shared by all trials
        logger.info("importances of job %s not computed: %s", record.job_id, exc)
        return dict(out, reason=f"not computed: {exc}")
    out["importances"] = [{"param": name, "importance": float(value)} for name, value in found.items()]
    if not out["importances"]:
        out["reason"] = "no parameter was sampled in every complete trial"
    return out


class ImportanceCache(JobAnswerCache):
    """One answer per job: ``get(record, trials_finished, results_dir)``."""

    def __init__(self) -> None:
        super().__init__(compute_importances)
