"""WebSocket /jobs/{id}/stream: the job's events as JSON, current state first.

Messages (all with ``type``, ``job_id`` and ``time``):
``state`` (first: the job, its running trial, finished trials and the warnings so far),
``job_status``, ``run_started``, ``trial_started`` (trial, params), ``model_built`` (trial,
architecture: layers with name, type, output_shape, params), ``epoch`` (trial, record: loss,
accuracy, val_loss, val_accuracy, seconds, health), ``trial_finished`` (trial, row),
``warning`` (level, logger, message: something went wrong without stopping the run, e.g. a
GPU proxy fallback; ``time`` is when it was logged), ``run_finished`` (summary without
trials and warnings), and ``job_finished`` (status, error), after
which the server closes the socket (1000). A job that already ended gets ``state`` and
``job_finished`` at once. Unauthorized or unknown jobs are refused at the handshake with
HTTP 401 / 404 (close codes 4401 / 4404 where the server cannot send a response).
Browsers cannot set headers on a WebSocket, so this route also takes the key as
``?api_key=`` (compared in constant time; query strings are never logged).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from hpopt.api.security import connection_authorized
from hpopt.jobs import views
from hpopt.jobs.store import utc_now

router = APIRouter(tags=["jobs"])
CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN = 1001, 1013


async def _deny(websocket: WebSocket, status: int, detail: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    else:
        await websocket.close(code=4000 + status, reason=detail[:120])


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.websocket("/jobs/{job_id}/stream")
async def stream(websocket: WebSocket, job_id: str) -> None:
    if not connection_authorized(websocket, query_key=True):
        await _deny(websocket, 401, "missing or wrong API key: send it as X-API-Key, Authorization: Bearer "
                    "or ?api_key=")
        return
    manager = websocket.app.state.manager
    record = manager.store.get(job_id)
    if record is None:
        await _deny(websocket, 404, f"no job {job_id!r}")
        return
    await websocket.accept()
    sub = manager.hub.subscribe(job_id)
    live = manager.live(job_id)  # snapshot and subscription taken together: no event falls between
    rows = views.trial_rows(record, live, manager.summary(record))
    state = {"type": "state", "job_id": job_id, "time": utc_now(), "job": manager.view(record),
             "current_trial": views.current_trial(record, live), "trials": views.public_rows(rows, False),
             "warnings": list(live.warnings), "warnings_dropped": live.warnings_dropped}
    reader = asyncio.create_task(_drain_client(websocket))
    try:
        await websocket.send_json(state)
        if record.terminal:
            await websocket.send_json({"type": "job_finished", "job_id": job_id, "time": utc_now(),
                                       "status": record.status, "error": record.error})
            await websocket.close(code=1000)
            return
        while True:
            getter = asyncio.create_task(sub.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:  # the client left
                getter.cancel()
                return
            event = getter.result()
            if event is None:
                await websocket.close(code=CLOSE_TRY_AGAIN if sub.overflowed else CLOSE_GOING_AWAY)
                return
            await websocket.send_json(event)
            if event.get("type") == "job_finished":
                await websocket.close(code=1000)
                return
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        manager.hub.unsubscribe(sub)
        reader.cancel()
