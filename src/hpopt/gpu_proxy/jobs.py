"""RunPod's queue-endpoint job protocol: POST /run, then /stream/<id> until the job is final.

/run returns at once, so a trial may run longer than a synchronous request allows.
RunPod's endpoints answer /stream with the records produced since the last read and the
job's status (GET); the SDK's local API server runs the whole job inside one /stream call
and answers POST only: the first GET answered 405 switches this client to POST. A job the
server no longer knows ("Job ID not found": the worker restarted, or the local server's
stream was already read) raises JobLost so the caller submits it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any, Iterator, Optional

import httpx

from hpopt.gpu_proxy.credentials import API_KEY_ENV, ENDPOINT_ID_ENV, PLACES
from hpopt.gpu_proxy.errors import FOREIGN_WORKER_HINT, GpuProxyUnavailable, PayloadTooLarge
from hpopt.gpu_proxy.transport import Stopped, Transport

logger = logging.getLogger(__name__)

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
POLL_DELAYS_S = (0.5, 1.0, 2.0, 3.0)


class JobLost(GpuProxyUnavailable):
    """The endpoint no longer knows the job: submit it again."""


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise GpuProxyUnavailable(f"{what}: HTTP {response.status_code} with a body that is not a JSON object")
    return body


def check_status(response: httpx.Response, what: str, transport: Transport) -> None:
    """Turn a refusal into a message that says what to fix."""
    code = response.status_code
    if code < 400:
        return
    url = transport.endpoint.base_url
    if code in (401, 403):
        raise GpuProxyUnavailable(f"{what}: the endpoint {url} refused the credentials (HTTP {code}): "
                                  f"check {API_KEY_ENV} (in {PLACES}) and that the key may use this endpoint")
    if code == 404:
        raise GpuProxyUnavailable(f"{what}: no GPU proxy at {url} (HTTP 404): check gpu_proxy_endpoint / "
                                  f"{ENDPOINT_ID_ENV}")
    if code == 413:
        raise PayloadTooLarge(f"{what}: the endpoint refused the request as too large (HTTP 413): use a "
                              "built-in dataset by name, gpu_proxy_sample_percentage, or use_gpu_proxy=false")
    snippet = transport.endpoint.redact(response.text[:300])
    raise GpuProxyUnavailable(f"{what}: HTTP {code} from {url}: {snippet}")


class RemoteJob:
    """One submitted job; iterate ``outputs()`` for its records as they arrive."""

    def __init__(self, transport: Transport, job_id: str, deadline: float) -> None:
        self.transport = transport
        self.id = job_id
        self.deadline = deadline
        self.final = False
        self.started = False  # the worker produced something (the job left the queue)
        self.buffered: deque[dict[str, Any]] = deque()
        self.execution_ms: Optional[float] = None  # RunPod's executionTime, when its answers carry it

    def outputs(self) -> Iterator[dict[str, Any]]:
        polls = 0
        while not self.final:
            body = self._read("stream")
            status = str(body.get("status", ""))
            self._note_execution_time(body)
            chunks = body.get("stream") or []
            for chunk in chunks:
                output = chunk.get("output") if isinstance(chunk, dict) else None
                if isinstance(output, dict):
                    self.buffered.append(output)
            if status not in ("IN_QUEUE", ""):
                self.started = True
            if status in FINAL_STATES:
                self._finished(status)
                if status != "COMPLETED":
                    error = self.transport.endpoint.redact(str(body.get("error") or "no details"))
                    if "not found" in error.lower():
                        raise JobLost(f"job {self.id} is unknown to the endpoint: {error}")
                    # hpopt's worker reports its own failures as error records, so a FAILED job is a
                    # crashed worker or another system's worker
                    raise GpuProxyUnavailable(f"job {self.id} ended {status}: {error[:500]} ({FOREIGN_WORKER_HINT})")
            while self.buffered:
                yield self.buffered.popleft()
            if not self.final and not chunks:
                delay = POLL_DELAYS_S[min(polls, len(POLL_DELAYS_S) - 1)]
                polls += 1
                if self.transport.stop.wait(min(delay, max(0.0, self.deadline - time.monotonic()))):
                    raise Stopped()
            elif chunks:
                polls = 0

    def _finished(self, status: str) -> None:
        self.final = True
        if status == "COMPLETED" and self.execution_ms is None:
            self._fetch_execution_time()

    def _note_execution_time(self, body: dict[str, Any]) -> None:
        value = body.get("executionTime")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            self.execution_ms = float(value)

    def _fetch_execution_time(self) -> None:
        """RunPod's /status of a finished job says how long it executed (ms): what is billed. Only
        asked of a RunPod-style server (GET reads); the SDK's local server would run the job again."""
        if self.transport.read_method != "GET":
            return
        try:
            response = self.transport.request("GET", f"/status/{self.id}", idempotent=True, timeout_s=10.0,
                                              attempts=1, honour_stop=False)
            if response.status_code < 400:
                self._note_execution_time(_json(response, f"status of job {self.id}"))
        except Exception as exc:  # noqa: BLE001 - the cost falls back to measured time; never fail a trial
            logger.debug("GPU proxy: no execution time for job %s: %s", self.id, exc)

    def cancel(self) -> None:
        """Best effort: the SDK's local server has no /cancel; a finished job needs none."""
        if self.final:
            return
        try:
            self.transport.request("POST", f"/cancel/{self.id}", idempotent=True, timeout_s=5.0, attempts=1,
                                   honour_stop=False)
            logger.info("GPU proxy: cancelled job %s", self.id)
        except Exception as exc:  # noqa: BLE001 - cancelling must never mask why we cancel
            logger.debug("GPU proxy: cancel of job %s failed: %s", self.id, exc)
        self.final = True

    def _read(self, kind: str) -> dict[str, Any]:
        transport = self.transport
        remaining = self.deadline - time.monotonic()
        response = transport.request(transport.read_method, f"/{kind}/{self.id}", idempotent=True,
                                     timeout_s=max(remaining, 0.001) + 1.0, deadline=self.deadline)
        if response.status_code == 405 and transport.read_method == "GET":
            transport.read_method = "POST"  # the SDK's local API server
            return self._read(kind)
        check_status(response, f"reading job {self.id}", transport)
        return _json(response, f"reading job {self.id}")


def submit(transport: Transport, job_input: dict[str, Any], deadline: float, what: str) -> RemoteJob:
    """POST /run; the job's handle. PayloadTooLarge before sending when over the limit."""
    content = transport.encode({"input": job_input}, what)
    response = transport.request("POST", "/run", content=content, idempotent=False, timeout_s=60.0,
                                 deadline=deadline)
    check_status(response, f"submitting {what}", transport)
    body = _json(response, f"submitting {what}")
    job_id = body.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise GpuProxyUnavailable(f"submitting {what}: the endpoint returned no job id")
    return RemoteJob(transport, job_id, deadline)
