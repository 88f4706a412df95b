"""Following a job until it ends: its WebSocket stream first, polling when that is unavailable.

Proxies (RunPod's among them) may refuse WebSockets; polling then shows the same trials, so
following a job never depends on the stream.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hpopt.remote_client.errors import one_line
from hpopt.remote_client.progress import Progress
from hpopt.remote_client.server_api import Api
from hpopt.remote_client.urls import websocket_url

TERMINAL = ("completed", "failed", "cancelled", "interrupted")


def _stream(api: Api, job_id: str, progress: Progress) -> None:
    """Feed the job's WebSocket events to the display until the job ends or the socket closes."""
    from websockets.sync.client import connect

    url = websocket_url(api.url, f"/jobs/{job_id}/stream")
    if api.debug:
        api.debug.write(f"-> WebSocket {url}" + (" (X-API-Key: ***)" if api.headers else ""))
    with connect(url, additional_headers=api.headers, open_timeout=15) as socket:
        for message in socket:
            event = json.loads(message)
            progress.event(event)
            if event.get("type") == "job_finished":
                break
    if api.debug:
        api.debug.write(f"<- WebSocket closed {url}")


def follow(api: Api, job_id: str, progress: Progress, poll_s: float = 2.0) -> dict[str, Any]:
    """Show progress until the job ends; returns the final job. WebSocket first, then polling."""
    try:
        _stream(api, job_id, progress)
    except Exception as exc:  # noqa: BLE001 - any WebSocket trouble (proxy, version): poll instead
        progress.write(f"(live stream unavailable: {one_line(exc)}; polling)")
    while True:
        job = api.json("GET", f"/jobs/{job_id}")
        if (job.get("progress") or {}).get("trials_finished", 0) > len(progress.finished):
            for row in api.json("GET", f"/jobs/{job_id}/trials").get("trials", []):
                progress.trial_finished(row)
        progress.job(job)
        if job["status"] in TERMINAL:
            return job
        time.sleep(poll_s)
