"""Does the endpoint answer? One ``GET <endpoint>/health``, bounded in time, for the API's background probe.

The path works on both servers the client talks to: RunPod's hosted API serves
``GET /v2/<id>/health`` (job and worker counts; it starts no worker), and the runpod SDK's
local test server (``handler.py --rp_serve_api``) has no such route, so it answers 404, which
still proves it is up. Rules:

- any HTTP answer below 500 is *reachable*; a 401 or 403 also says, in ``detail``, that the key
  was refused (or missing), since the endpoint is there but jobs would be turned away;
- except a 404 from RunPod's own host: RunPod has no endpoint with that id, so nothing will
  serve jobs, and it is *unreachable* with a detail naming RUNPOD_ENDPOINT_ID;
- 5xx, a connection error and no answer within the timeout are *unreachable*.

The request carries ``Endpoint.headers()`` (the key goes only to the configured endpoint),
never follows redirects, and reads at most a few KiB of the answer. Details never hold the key.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Optional

import httpx

from hpopt.gpu_proxy.credentials import API_KEY_ENV, ENDPOINT_ID_ENV, PLACES
from hpopt.gpu_proxy.endpoint import Endpoint
from hpopt.masking import mask_text

__all__ = ["PROBE_PATH", "PROBE_TIMEOUT_S", "Reachability", "check_reachable", "classify"]

PROBE_PATH = "/health"
PROBE_TIMEOUT_S = 5.0
_MAX_BODY = 16 * 1024


@dataclass(frozen=True)
class Reachability:
    reachable: bool
    detail: Optional[str] = None  # what a person should know (masked; never the key)
    http_status: Optional[int] = None


def _workers(body: Any) -> Optional[str]:
    """RunPod's health answer in a few words: ``workers idle 1, running 0; jobs inQueue 0, ...``."""
    if not isinstance(body, dict):
        return None
    parts = []
    for group in ("workers", "jobs"):
        counts = body.get(group)
        if isinstance(counts, dict):
            shown = ", ".join(f"{k} {v}" for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool))
            if shown:
                parts.append(f"{group} {shown}")
    return "; ".join(parts) or None


def classify(endpoint: Endpoint, status: int, body: bytes = b"") -> Reachability:
    """The verdict on an HTTP answer (see the module's rules)."""
    url = mask_text(endpoint.base_url)
    if status >= 500:
        return Reachability(False, f"HTTP {status} from {url}{PROBE_PATH}", status)
    if status in (401, 403):
        problem = "refused the API key" if endpoint.api_key else f"wants an API key and no {API_KEY_ENV} was found"
        return Reachability(True, f"the endpoint answers but {problem} (HTTP {status}): check {API_KEY_ENV} in "
                                  f"{PLACES}", status)
    if status == 404 and endpoint.is_runpod:
        return Reachability(False, f"RunPod has no endpoint at {url} (HTTP 404): check gpu_proxy_endpoint or "
                                   f"{ENDPOINT_ID_ENV}", status)
    if endpoint.is_runpod and status == 200:
        try:
            return Reachability(True, _workers(json.loads(body)), status)
        except ValueError:
            pass
    return Reachability(True, None, status)


async def _get(endpoint: Endpoint, timeout_s: float) -> tuple[int, bytes]:
    async with httpx.AsyncClient(headers=endpoint.headers(), follow_redirects=False,
                                 timeout=httpx.Timeout(timeout_s)) as client:
        async with client.stream("GET", f"{endpoint.base_url}{PROBE_PATH}") as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= _MAX_BODY:
                    break
            return response.status_code, body[:_MAX_BODY]


async def check_reachable(endpoint: Endpoint, timeout_s: float = PROBE_TIMEOUT_S) -> Reachability:
    """One probe, finished (answered or given up) within ``timeout_s``; never raises."""
    url = mask_text(endpoint.base_url)
    try:
        status, body = await asyncio.wait_for(_get(endpoint, timeout_s), timeout_s)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        return Reachability(False, f"no answer from {url}{PROBE_PATH} within {timeout_s:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        reason = mask_text(endpoint.redact(str(exc))) or "no details"
        return Reachability(False, f"{url}{PROBE_PATH}: {type(exc).__name__}: {reason}")
    return classify(endpoint, status, body)
