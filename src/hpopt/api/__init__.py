"""The REST API: FastAPI app, routers per resource, and a job manager that runs each
optimization in its own OS process. ``create_app`` is imported lazily so the job
process (hpopt.jobs.job_process) does not pay for FastAPI."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    from hpopt.api.app import create_app as _create_app

    return _create_app(*args, **kwargs)
