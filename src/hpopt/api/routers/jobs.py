"""Jobs as a resource: list, show, stop, resume, delete."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from hpopt.api.deps import JobDep, ManagerDep, errors
from hpopt.api.schemas import DeletedOut, JobListOut, JobOut, JobStatus, ResumeIn
from hpopt.api.security import require_api_key
from hpopt.jobs.manager import JobConflict, JobNotFound, QueueFull

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)])


@router.get("", response_model=JobListOut, summary="List jobs, newest first", responses=errors())
async def list_jobs(
    manager: ManagerDep,
    status: Optional[JobStatus] = Query(None, description="only jobs in this status"),
    limit: int = Query(50, ge=1, le=500, description="page size"),
    offset: int = Query(0, ge=0, le=1_000_000, description="jobs to skip"),
) -> dict:
    records = [r for r in reversed(manager.store.all()) if status is None or r.status == status]
    page = records[offset:offset + limit]
    return {"jobs": [manager.view(r) for r in page], "total": len(records), "limit": limit, "offset": offset}


@router.get("/{job_id}", response_model=JobOut, summary="One job: status and progress", responses=errors(404))
async def get_job_view(record: JobDep, manager: ManagerDep) -> dict:
    return manager.view(record)


@router.post("/{job_id}/stop", response_model=JobOut, status_code=202, responses=errors(404, 409),
             summary="Stop a job (the running trial ends, finished trials are kept)")
async def stop_job(record: JobDep, manager: ManagerDep) -> dict:
    """A pending job is cancelled at once. A running job gets SIGINT: the running trial
    ends after its current epoch, the results of finished trials are written, and the job
    becomes ``cancelled``; a process still there after stop_grace_s is killed. Poll
    GET /jobs/{id} (or watch the stream) for the end."""
    try:
        return manager.view(manager.stop(record.job_id))
    except JobConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.post("/{job_id}/resume", response_model=JobOut, status_code=202, responses=errors(400, 404, 409, 429),
             summary="Resume a stopped, interrupted or failed job")
async def resume_job(
    record: JobDep,
    manager: ManagerDep,
    body: Optional[ResumeIn] = Body(None, examples=[{"trials": 20}]),
) -> dict:
    """Queue the job again with the same settings and run name, so its Optuna study
    continues where it stopped: finished trials are kept and count towards ``trials``
    (the total). Give a larger ``trials`` to extend a completed job."""
    limit = manager.settings.max_job_trials
    if body and body.trials is not None and body.trials > limit:
        raise RequestValidationError([{"loc": ("body", "trials"), "type": "limit_exceeded",
                                       "msg": f"trials={body.trials} exceeds this server's limit max_job_trials="
                                              f"{limit} (set by the operator as HYPEROPT_MAX_JOB_TRIALS)"}])
    try:
        return manager.view(manager.resume(record.job_id, body.trials if body else None))
    except QueueFull as exc:
        raise HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
    except JobConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.delete("/{job_id}", response_model=DeletedOut, responses=errors(404, 409),
               summary="Delete a job with its run folder and study")
async def delete_job(record: JobDep, manager: ManagerDep) -> dict:
    try:
        await manager.delete(record.job_id)
    except JobNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except JobConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return {"job_id": record.job_id, "deleted": True}
