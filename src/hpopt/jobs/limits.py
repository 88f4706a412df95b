"""What the job system needs of the server's settings (hpopt.api.settings.ApiSettings has it):
declared here so the jobs depend on this, not on the HTTP layer."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class JobSettings(Protocol):
    """Where jobs live and how many run, queue and how long a stop may take."""

    @property
    def results_path(self) -> Path: ...

    @property
    def jobs_dir(self) -> Path: ...

    @property
    def jobs_db(self) -> Path: ...

    max_concurrent_jobs: int
    max_queued_jobs: int
    allow_shared_studies: bool
    stop_grace_s: float
    job_nice: int
