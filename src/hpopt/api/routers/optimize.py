"""POST /optimize: validate settings exactly as the CLI does and queue a job."""

from __future__ import annotations

import json
from typing import Any, Union

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hpopt.api.deps import ManagerDep, errors
from hpopt.api.optimize_request import (
    RequestError,
    check_job_limits,
    check_notify_url,
    config_from_body,
    optimize_request_schema,
)
from hpopt.api.schemas import JobOut
from hpopt.api.security import require_api_key
from hpopt.jobs.manager import JobConflict, QueueFull, StudyTaken

router = APIRouter(tags=["jobs"], dependencies=[Depends(require_api_key)])


class ConfigProblem(BaseModel):
    loc: list[Union[str, int]]
    msg: str
    type: str


class ConfigProblems(BaseModel):
    detail: list[ConfigProblem]


def _invalid(message: str, key: Any = None, kind: str = "config_error") -> RequestValidationError:
    return _invalid_all([(message, key)], kind)


def _invalid_all(problems: list[tuple[str, Any]], kind: str = "config_error") -> RequestValidationError:
    """One 422 listing every problem, each with its key in ``loc``."""
    return RequestValidationError([{"loc": ("body", key) if key else ("body",), "msg": message, "type": kind}
                                   for message, key in problems])


@router.post(
    "/optimize", status_code=201, response_model=JobOut, summary="Start an optimization job",
    responses={**errors(409, 413, 429), 422: {"model": ConfigProblems, "description": "a setting is unknown, malformed "
                                         "or inconsistent: the CLI's message, with the key in loc"}},
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
        "schema": optimize_request_schema()}}}},
)
async def optimize(request: Request, response: Response, manager: ManagerDep) -> dict:
    """Queue a job that runs what ``python src/optimizer.py key=value ...`` runs.

    The body takes the seed's shape (dataset_name, mode, optimize_for, trials,
    health_weight, config_overrides) or the CLI's flat keys, validated by the same config
    model as the CLI: a mistake answers 422 with the CLI's message and the key in ``loc``.
    Server environment variables (HYPEROPT_*) and .env give the defaults, as for the CLI.
    The job starts at once when a slot is free (max_concurrent_jobs), else waits as pending;
    the operator's limits (trials, epochs, workers: 422; queued jobs: 429) name themselves.
    """
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"the body is not valid JSON: {exc}", kind="json_invalid") from None
    try:
        config = await run_in_threadpool(  # may read a dataset's headers: off the event loop
            config_from_body, body, manager.results_dir, data_roots=manager.settings.data_root_paths)
        check_job_limits(config, manager.settings)
        check_notify_url(config, manager.settings)
    except RequestError as exc:
        raise _invalid_all(exc.problems) from None
    try:
        record = manager.submit(config, public_url=str(request.base_url))
    except StudyTaken as exc:
        raise _invalid(str(exc), exc.key, kind="study_taken") from None
    except QueueFull as exc:
        raise HTTPException(status_code=429, detail=str(exc),
                            headers={"Retry-After": str(exc.retry_after_s)}) from None
    except JobConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    response.headers["Location"] = f"/jobs/{record.job_id}"
    return manager.view(record)
