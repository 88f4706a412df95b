"""Hyperparameter importances of a job's study, computed by Optuna (no TensorFlow).

The job's Optuna study is read from its storage, as the runner's param_importances plot
does, so the numbers match that plot. Computing them costs tens of milliseconds to a
few seconds (loading the study), so it runs in a thread and the answer is cached until
another trial of the job finishes.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.store import JobRecord
from hpopt.layout import default_storage_path, study_name

__all__ = ["ImportanceCache", "compute_importances"]

logger = logging.getLogger(__name__)
METHOD = "Optuna's default importance evaluator (optuna.importance.get_param_importances)"


def _storage(config: dict[str, Any], results_dir: Path) -> Optional[str]:
    from hpopt.jobs.operator_settings import operator_storage  # the record's storage is masked

    storage = operator_storage(config.get("storage"))
    if storage:
        return str(storage)
    path = default_storage_path(results_dir)
    return f"sqlite:///{path}" if path.is_file() else None


def compute_importances(record: JobRecord, results_dir: Path) -> dict[str, Any]:
    """{method, target, n_trials, importances: [{param, importance}], reason}; never raises."""
    out: dict[str, Any] = {"method": METHOD, "target": "value", "n_trials": 0, "importances": [], "reason": None}
    storage = _storage(record.config, results_dir)
    if storage is None:
        return dict(out, reason="the job has not started a trial yet")
    try:
        import optuna  # lazy: the server only pays for it when importances are asked for

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        name = study_name(record.config.get("study_name"), record.run_name)
        study = optuna.load_study(study_name=name, storage=storage)
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


class ImportanceCache:
    """One answer per job, recomputed when the job's finished trials or attempt change."""

    def __init__(self) -> None:
        self._answers: dict[str, tuple[tuple, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()  # one computation at a time: they are CPU work in a thread

    async def get(self, record: JobRecord, results_dir: Path, trials_finished: int) -> dict[str, Any]:
        key = (record.attempts, trials_finished, record.status)
        cached = self._answers.get(record.job_id)
        if cached and cached[0] == key:
            return cached[1]
        async with self._lock:
            cached = self._answers.get(record.job_id)
            if cached and cached[0] == key:
                return cached[1]
            answer = await asyncio.to_thread(compute_importances, record, results_dir)
            self._answers[record.job_id] = (key, answer)
            return answer
