"""A job's trials: all of them, the running one, the best one, and the trend."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from hpopt.api import views
from hpopt.api.deps import errors, get_job, get_manager
from hpopt.api.manager import JobManager
from hpopt.api.schemas import BestTrialOut, CurrentTrialOut, TrendsOut, TrialsOut
from hpopt.api.security import require_api_key
from hpopt.api.store import JobRecord

router = APIRouter(prefix="/jobs/{job_id}", tags=["trials"], dependencies=[Depends(require_api_key)],
                   responses=errors(404))


@router.get("/trials", response_model=TrialsOut, response_model_exclude_unset=True,
             summary="Finished trials (summary.json rows)")
async def trials(
    record: JobRecord = Depends(get_job),
    history: bool = Query(False, description="include each trial's per-epoch history"),
    manager: JobManager = Depends(get_manager),
) -> dict:
    rows = views.trial_rows(record, manager.live(record.job_id), manager.summary(record))
    return {"job_id": record.job_id, "status": record.status, "count": len(rows),
            "trials": views.public_rows(rows, history)}


@router.get("/current-trial", response_model=CurrentTrialOut, summary="The running trial, epoch by epoch")
async def current_trial(record: JobRecord = Depends(get_job), manager: JobManager = Depends(get_manager)) -> dict:
    return {"job_id": record.job_id, "status": record.status,
            "trial": views.current_trial(record, manager.live(record.job_id))}


@router.get("/best-trial", response_model=BestTrialOut, summary="The best complete trial so far")
async def best_trial(record: JobRecord = Depends(get_job), manager: JobManager = Depends(get_manager)) -> dict:
    """From summary.json once the job ended (with test_accuracy, and the Pareto front in
    pareto mode); from the live trials while it runs."""
    return views.best_trial(record, manager.live(record.job_id), manager.summary(record))


@router.get("/trends", response_model=TrendsOut, summary="Value, running best and health per trial")
async def trends(record: JobRecord = Depends(get_job), manager: JobManager = Depends(get_manager)) -> dict:
    return views.trends(record, manager.live(record.job_id), manager.summary(record))
