"""A job's trials: all of them, one in full, the running one, the best one, the trend,
and the importance of each hyperparameter."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam

from hpopt.api.deps import JobDep, ManagerDep, errors
from hpopt.api.importance import ImportanceCache
from hpopt.api.run_summary import run_summary
from hpopt.api.schemas import (
    BestTrialOut,
    CurrentTrialOut,
    ImportancesOut,
    RunSummaryOut,
    TrendsOut,
    TrialDetailOut,
    TrialsOut,
)
from hpopt.api.security import require_api_key
from hpopt.api.trial_detail import trial_detail
from hpopt.jobs import views

router = APIRouter(prefix="/jobs/{job_id}", tags=["trials"], dependencies=[Depends(require_api_key)],
                   responses=errors(404))


@router.get("/trials", response_model=TrialsOut, response_model_exclude_unset=True,
             summary="Finished trials (summary.json rows)")
async def trials(
    record: JobDep,
    manager: ManagerDep,
    history: bool = Query(False, description="include each trial's per-epoch history"),
) -> dict:
    rows = views.trial_rows(record, manager.live(record.job_id), manager.summary(record))
    return {"job_id": record.job_id, "status": record.status, "count": len(rows),
            "trials": views.public_rows(rows, history)}


@router.get("/current-trial", response_model=CurrentTrialOut, summary="The running trial, epoch by epoch")
async def current_trial(record: JobDep, manager: ManagerDep) -> dict:
    return {"job_id": record.job_id, "status": record.status,
            "trial": views.current_trial(record, manager.live(record.job_id))}


@router.get("/best-trial", response_model=BestTrialOut, summary="The best complete trial so far")
async def best_trial(record: JobDep, manager: ManagerDep) -> dict:
    """From summary.json once the job ended (with test_accuracy, and the Pareto front in
    pareto mode); from the live trials while it runs."""
    return views.best_trial(record, manager.live(record.job_id), manager.summary(record))


@router.get("/run-summary", response_model=RunSummaryOut, summary="A finished run at a glance")
async def summary_card(record: JobDep, manager: ManagerDep) -> dict:
    """Best trial with test metrics, counts by state, wall time, the warm-start baseline and the
    trials at chance level, from summary.json: 404 until the job has ended and written it."""
    answer = run_summary(record, manager.summary(record), manager.run_dir(record))
    if answer is None:
        raise HTTPException(status_code=404, detail=f"job {record.job_id} has no run summary yet (status "
                            f"{record.status}): it is written when the job ends")
    return answer


@router.get("/trends", response_model=TrendsOut, summary="Value, running best and health per trial")
async def trends(record: JobDep, manager: ManagerDep) -> dict:
    return views.trends(record, manager.live(record.job_id), manager.summary(record))


@router.get("/trials/{number}", response_model=TrialDetailOut, response_model_exclude_unset=True,
            summary="One trial in full: history, health, architecture, plots")
async def one_trial(
    record: JobDep,
    manager: ManagerDep,
    number: int = PathParam(ge=0, le=10_000_000, description="the trial's number"),
) -> dict:
    """A finished trial's row with its per-epoch history (live health included), its full
    health report, its model's layers (name, type, output_shape, params) and its plots;
    the running trial's history and layers so far."""
    live, summary = manager.live(record.job_id), manager.summary(record)
    rows, current = views.trial_rows(record, live, summary), views.current_trial(record, live)
    detail = await asyncio.to_thread(trial_detail, record, rows, current, live.architectures.get(number),
                                     manager.run_dir(record), number)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"job {record.job_id} has no trial {number} (yet); GET "
                            f"/jobs/{record.job_id}/trials lists them")
    return detail


@router.get("/importances", response_model=ImportancesOut, summary="Hyperparameter importances")
async def importances(request: Request, record: JobDep,
                      manager: ManagerDep) -> dict:
    """How much each hyperparameter explains the trials' value, by Optuna's importance
    evaluator on the job's study (as plots/param_importances.png); needs 2 complete
    trials. Recomputed when another trial finishes."""
    cache = getattr(request.app.state, "importances", None)
    if cache is None:
        cache = request.app.state.importances = ImportanceCache()
    finished = manager.view(record)["progress"]["trials_finished"]
    answer = await cache.get(record, finished, manager.results_dir)
    return {"job_id": record.job_id, "status": record.status, **answer}
