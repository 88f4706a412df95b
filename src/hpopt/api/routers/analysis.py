"""A job's study for the dashboard's analysis views (parallel coordinates, slice, contour,
EDF, intermediate values, history): one request gives every chart its data."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from hpopt.api.analysis import AnalysisCache
from hpopt.api.deps import JobDep, ManagerDep, errors
from hpopt.api.schemas import AnalysisOut
from hpopt.api.security import require_api_key
from hpopt.jobs import views

router = APIRouter(prefix="/jobs/{job_id}", tags=["trials"], dependencies=[Depends(require_api_key)],
                   responses=errors(404))


@router.get("/analysis", response_model=AnalysisOut, summary="Every trial's parameters, values and epochs")
async def analysis(request: Request, record: JobDep, manager: ManagerDep) -> dict:
    """Per trial: parameters, value(s), state and per-epoch values; per parameter: the
    distribution it was sampled from (float / int / categorical, log scale, range). Read
    from the job's Optuna study; recomputed when another trial finishes."""
    cache = getattr(request.app.state, "analysis", None)
    if cache is None:
        cache = request.app.state.analysis = AnalysisCache()
    rows = views.trial_rows(record, manager.live(record.job_id), manager.summary(record))
    finished = manager.view(record)["progress"]["trials_finished"]
    answer = await cache.get(record, finished, manager.results_dir, rows)
    return {"job_id": record.job_id, "status": record.status, "maximize": answer["directions"][0] != "minimize",
            **answer}
