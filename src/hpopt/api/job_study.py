"""A job's Optuna study, opened read-only from the API server (no TensorFlow).

The importances and the analysis views read the same study the runner wrote, so their
numbers match its plots and what ``optuna-dashboard <storage>`` shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from hpopt.jobs.store import JobRecord
from hpopt.layout import default_storage_path, study_name

if TYPE_CHECKING:
    import optuna

__all__ = ["job_storage_url", "load_job_study"]


def job_storage_url(config: dict[str, Any], results_dir: Path) -> Optional[str]:
    """The job's storage URL, or None while the default SQLite file does not exist yet."""
    from hpopt.jobs.operator_settings import operator_storage  # the record's storage is masked

    storage = operator_storage(config.get("storage"))
    if storage:
        return str(storage)
    path = default_storage_path(results_dir)
    return f"sqlite:///{path}" if path.is_file() else None


def load_job_study(record: JobRecord, storage: str) -> "optuna.Study":
    """The job's study; raises KeyError when the storage does not hold it."""
    import optuna  # lazy: the server only pays for it when a study is asked for

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name(record.config.get("study_name"), record.run_name)
    return optuna.load_study(study_name=name, storage=storage)
