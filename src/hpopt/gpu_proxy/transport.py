"""HTTP to the endpoint with retries: connection errors, 408, 429 and 5xx are retried with
exponential backoff (honouring Retry-After); anything else is returned to the caller.

A request that may have reached the server (the connection dropped after sending) is
retried only when it is idempotent: a repeated /run could queue the trial twice. Waits are
interruptible through ``stop`` so Ctrl-C (or the executor closing) is not held up by a
backoff sleep. Messages name the URL, never the API key.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import httpx

from hpopt.gpu_proxy.endpoint import Endpoint
from hpopt.gpu_proxy.errors import GpuProxyUnavailable, PayloadTooLarge

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
CONNECT_TIMEOUT_S = 10.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Stopped(Exception):
    """The executor is shutting down (Ctrl-C): give up waiting."""


class DeadlinePassed(Exception):
    """The trial's time budget ran out while talking to the endpoint."""


@dataclass(frozen=True)
class RetryPolicy:
    """attempts in all (first try included); delays double from base_delay_s up to max_delay_s."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * random.uniform(0.8, 1.2)


def _retry_after(response: httpx.Response) -> Optional[float]:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class Transport:
    """One httpx client per executor; thread-safe (httpx.Client is)."""

    def __init__(self, endpoint: Endpoint, policy: RetryPolicy = RetryPolicy(), *,
                 max_request_bytes: int, client: Optional[httpx.Client] = None,
                 stop: Optional[threading.Event] = None) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self.max_request_bytes = max_request_bytes
        self.stop = stop or threading.Event()
        self.read_method = "GET"  # RunPod reads jobs with GET; the SDK's local server only with POST
        self._client = client or httpx.Client(headers=endpoint.headers(), follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return f"{self.endpoint.base_url}{path}"

    def encode(self, body: Any, what: str) -> bytes:
        """JSON bytes of a request body, refused when over the endpoint's size limit."""
        content = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        if len(content) > self.max_request_bytes:
            raise PayloadTooLarge(
                f"the {what} request is {len(content) / 1e6:.1f} MB, over the endpoint's "
                f"{self.max_request_bytes / 1e6:g} MB limit (gpu_proxy_max_payload_mb). Use a built-in "
                "dataset by name (the worker then loads it itself), send a sample with "
                "gpu_proxy_sample_percentage=<fraction below 1>, or train locally with use_gpu_proxy=false")
        return content

    def _read_timeout(self, method: str, url: str, timeout_s: float, deadline: Optional[float],
                      honour_stop: bool) -> float:
        """This attempt's read timeout (never past the deadline); raises when stopped or out of time."""
        read_timeout = timeout_s
        if deadline is not None:
            read_timeout = min(timeout_s, deadline - time.monotonic())
            if read_timeout <= 0:
                raise DeadlinePassed(f"{method} {url}")
        if honour_stop and self.stop.is_set():
            raise Stopped()
        return read_timeout

    def _transport_failure(self, exc: httpx.TransportError, method: str, url: str, idempotent: bool,
                           deadline: Optional[float], honour_stop: bool) -> str:
        """Why a connection failed, when a retry may help; raises when it may not."""
        if honour_stop and self.stop.is_set():
            raise Stopped() from None
        if isinstance(exc, httpx.ReadTimeout) and deadline is not None and time.monotonic() >= deadline:
            raise DeadlinePassed(f"{method} {url}") from None
        if not isinstance(exc, _NOT_SENT) and not idempotent:
            raise GpuProxyUnavailable(
                f"{method} {url}: the connection broke after the request was sent "
                f"({type(exc).__name__}); not repeated, it may have been received") from None
        return f"{type(exc).__name__}: {self.endpoint.redact(str(exc)) or 'no details'}"

    def request(self, method: str, path: str, *, content: Optional[bytes] = None, idempotent: bool,
                timeout_s: float = 60.0, deadline: Optional[float] = None,
                attempts: Optional[int] = None, honour_stop: bool = True) -> httpx.Response:
        """The first response that is not worth retrying; GpuProxyUnavailable when retries run out.

        ``honour_stop=False`` is for cancelling jobs while shutting down.
        """
        url = self.url(path)
        last = "no attempt"
        attempts = attempts or self.policy.attempts
        for attempt in range(1, attempts + 1):
            read_timeout = self._read_timeout(method, url, timeout_s, deadline, honour_stop)
            try:
                response = self._client.request(
                    method, url, content=content,
                    timeout=httpx.Timeout(read_timeout, connect=min(CONNECT_TIMEOUT_S, read_timeout)))
            except httpx.TransportError as exc:
                last, retry_after = self._transport_failure(exc, method, url, idempotent, deadline, honour_stop), None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a malformed URL or response: retrying will not help
                raise GpuProxyUnavailable(f"{method} {url}: {type(exc).__name__}: "
                                          f"{self.endpoint.redact(str(exc))}") from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                last, retry_after = f"HTTP {response.status_code}", _retry_after(response)
            if attempt < attempts:
                delay = self.policy.delay(attempt, retry_after)
                logger.info("GPU proxy: %s %s failed (%s); retry %d/%d in %.1f s", method, url, last,
                            attempt, attempts - 1, delay)
                if self.stop.wait(delay) and honour_stop:
                    raise Stopped()
        raise GpuProxyUnavailable(f"{method} {url} failed {attempts} time(s); last: {last}")
