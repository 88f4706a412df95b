"""FastAPI dependencies: the app's settings and job manager, and a job looked up by id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from hpopt.api.schemas import ErrorOut
from hpopt.api.settings import ApiSettings
from hpopt.jobs.manager import JobManager, JobNotFound
from hpopt.jobs.store import JobRecord

JOB_ID_DOC = "the job's id, as POST /optimize returned it"
_ERROR_TEXT = {
    400: "the request is malformed (for files: a path that could leave the run folder)",
    401: "missing or wrong API key (only when the server has HYPEROPT_API_KEY)",
    404: "no such job (or file)",
    409: "the job's state does not allow this now",
    413: "request body too large",
    429: "the job queue is full (max_queued_jobs); retry after the Retry-After header's seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers a route can give (always 401)."""
    return {code: {"model": ErrorOut, "description": _ERROR_TEXT[code]} for code in sorted({401, *codes})}


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


async def get_manager(request: Request) -> JobManager:
    return request.app.state.manager


async def get_job(request: Request, job_id: str = Path(description=JOB_ID_DOC, max_length=64)) -> JobRecord:
    try:
        return request.app.state.manager.get(job_id)
    except JobNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


# Typed aliases: a route names what it needs (``manager: ManagerDep``), FastAPI provides it.
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ManagerDep = Annotated[JobManager, Depends(get_manager)]
JobDep = Annotated[JobRecord, Depends(get_job)]
