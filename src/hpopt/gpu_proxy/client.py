"""GpuProxyClient: the endpoint's operations (train, health_check, system_info) over HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

import httpx

from hpopt.gpu_proxy.endpoint import Endpoint
from hpopt.gpu_proxy.errors import FOREIGN_WORKER_HINT, GpuProxyUnavailable
from hpopt.gpu_proxy.jobs import RemoteJob, check_status, submit
from hpopt.gpu_proxy.protocol import TrainRequest
from hpopt.gpu_proxy.transport import RetryPolicy, Transport


class GpuProxyClient:
    """Thread-safe; one per run. ``stop`` (set on Ctrl-C or close) ends every wait at once."""

    def __init__(self, endpoint: Endpoint, *, max_request_bytes: int, policy: RetryPolicy = RetryPolicy(),
                 stop: Optional[threading.Event] = None, http_client: Optional[httpx.Client] = None) -> None:
        self.endpoint = endpoint
        self.transport = Transport(endpoint, policy, max_request_bytes=max_request_bytes, client=http_client,
                                   stop=stop)

    @property
    def stop(self) -> threading.Event:
        return self.transport.stop

    def close(self) -> None:
        self.transport.close()

    def submit_train(self, request: TrainRequest, deadline: float) -> RemoteJob:
        what = f"trial (spec seed {request.spec.seed})"
        return submit(self.transport, request.model_dump(mode="json"), deadline, what)

    def _operation(self, operation: str, expected: str, timeout_s: float) -> dict[str, Any]:
        job = submit(self.transport, {"operation": operation}, time.monotonic() + timeout_s, operation)
        for record in job.outputs():
            if record.get("type") == expected:
                return record
            if record.get("type") == "error":
                raise GpuProxyUnavailable(f"{operation} refused by the worker: {record.get('message')}")
        raise GpuProxyUnavailable(
            f"{operation}: the worker answered without a {expected} record; {FOREIGN_WORKER_HINT}")

    def health(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """The worker's health_check record (this runs a job: on RunPod it may start a worker)."""
        return self._operation("health_check", "health", timeout_s)

    def system_info(self, timeout_s: float = 300.0) -> dict[str, Any]:
        """GPU name and memory, TensorFlow version, ... of the worker that takes the job."""
        return self._operation("system_info", "system_info", timeout_s)

    def probe(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Reachability without waking a worker: RunPod's GET /health (jobs and workers
        counts); a server without that route (the SDK's local API server) gets a health_check."""
        response = self.transport.request("GET", "/health", idempotent=True, timeout_s=timeout_s, attempts=2)
        if response.status_code in (404, 405):
            return {"endpoint": "reachable", "worker": self.health(timeout_s=max(timeout_s, 30.0))}
        check_status(response, "GET /health", self.transport)
        try:
            body = response.json()
        except ValueError:
            body = None
        return {"endpoint": "reachable", "runpod_health": body if isinstance(body, dict) else None}
