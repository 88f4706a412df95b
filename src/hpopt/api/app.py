"""The FastAPI application: routers, middleware, lifespan (job recovery and shutdown).

Importing this module never imports TensorFlow: training happens only in job processes
(hpopt.jobs.job_process), so the server starts in about a second and its event loop stays
free to answer while jobs train.
"""

from __future__ import annotations

import copy
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from hpopt import __version__
from hpopt.api.gpu_proxy_probe import GpuProxyProbe
from hpopt.api.predict_process import PredictionSlots
from hpopt.api.routers import analysis, dashboard, files, jobs, meta, optimize, predict, stream, trials
from hpopt.api.security import AccessLog, BodySizeLimit, require_api_key
from hpopt.api.settings import ApiSettings, load_settings
from hpopt.jobs.manager import JobManager

__all__ = ["create_app"]

DESCRIPTION = """
Hyperparameter optimization of Keras models with Optuna, as managed jobs.

* **POST /optimize** queues a job (the CLI's settings, validated by the same model).
* **GET /jobs/{id}**, **/trials**, **/current-trial**, **/best-trial**, **/trends** follow it.
* **WebSocket /jobs/{id}/stream** pushes its events as JSON: `state` first, then
  `job_status`, `run_started`, `trial_started`, `epoch`, `trial_finished`, `run_finished`,
  `job_finished` (then the server closes the socket).
* **POST /jobs/{id}/predict** runs a finished job's best model on an uploaded file or a list of texts.
* **POST /jobs/{id}/stop**, **/resume**, **DELETE /jobs/{id}** control it;
  **/files**, **/files/{path}** and **/download** (ZIP) fetch its results.

When the server has an API key (HYPEROPT_API_KEY) every route but /health needs it, as
`X-API-Key: <key>` or `Authorization: Bearer <key>`.
"""


def _public_schema(app: FastAPI) -> dict:
    """The OpenAPI schema; without an API key configured, it declares no security either."""
    schema = app.openapi()
    if app.state.settings.api_key is not None:
        return schema
    schema = copy.deepcopy(schema)
    schema.get("components", {}).pop("securitySchemes", None)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return schema


def _docs_router(app: FastAPI) -> APIRouter:
    """/openapi.json, /docs and /redoc behind the same API key as everything else."""
    router = APIRouter(dependencies=[Depends(require_api_key)], include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(_public_schema(app))

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="hpopt API")

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="hpopt API")

    return router


def create_app(settings: Optional[ApiSettings] = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment and .env, as the server reads them)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager = JobManager(settings)
        app.state.manager = manager
        await manager.start()
        probe = GpuProxyProbe(settings.gpu_proxy_probe_interval_s)
        app.state.gpu_proxy_probe = probe
        await probe.start()
        try:
            yield
        finally:
            await probe.stop()
            await manager.shutdown()

    app = FastAPI(title="hpopt API", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.predictions = PredictionSlots(settings.max_concurrent_predictions)
    for module in (meta, optimize, jobs, predict, trials, analysis, files, stream, dashboard):
        if module is meta:
            app.include_router(meta.health_router)
        app.include_router(module.router)
    app.include_router(_docs_router(app))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Starlette names one route's methods; list every route's for the path
            methods = sorted({m for route in app.routes if isinstance(route, Route) and route.methods
                              and route.matches(request.scope)[0] != Match.NONE for m in route.methods})
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("hpopt.api").error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}; see the server log"}, status_code=500)

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["X-API-Key", "Authorization",
                                                                                   "Content-Type"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       upload_max_bytes=settings.max_predict_upload_bytes)
    app.add_middleware(AccessLog)
    return app
