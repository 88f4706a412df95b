"""The GPU proxy's status for GET /health: a background probe whose last verdict /health returns at once.

A task started in the app's lifespan checks the endpoint every ``gpu_proxy_probe_interval_s``
(hpopt.gpu_proxy.reachability: one GET <endpoint>/health, 5 s at most), so /health never waits
on the network, even when the endpoint hangs. Statuses:

    disabled        probing is off (gpu_proxy_probe_interval_s=0) or the GPU proxy client is absent
    not_configured  no endpoint: neither HYPEROPT_GPU_PROXY_ENDPOINT nor RUNPOD_ENDPOINT_ID
                    (or a RunPod endpoint id without RUNPOD_API_KEY)
    unknown         the first check since the server started has not finished yet (start-up waits
                    up to FIRST_CHECK_WAIT_S for it, so a prompt endpoint is never shown as unknown)
    reachable       the endpoint answered HTTP (below 500; see reachability for 401 and RunPod's 404)
    unreachable     connection error, no answer in time, or HTTP 5xx

The endpoint is the one the server's jobs would use (HYPEROPT_GPU_PROXY_ENDPOINT from the
environment or ./.env, else RUNPOD_ENDPOINT_ID), re-read at every check, so editing .env shows
up without a restart, as it does for jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Optional

from hpopt.gpu_proxy.endpoint import Endpoint, EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.reachability import PROBE_TIMEOUT_S, check_reachable
from hpopt.masking import mask_text
from hpopt.run_clock import utc_stamp

__all__ = ["GpuProxyStatus", "ProbeState", "GpuProxyProbe", "client_installed", "configured_endpoint_setting"]

logger = logging.getLogger(__name__)

GpuProxyStatus = Literal["disabled", "not_configured", "unknown", "reachable", "unreachable"]
ENDPOINT_VAR = "HYPEROPT_GPU_PROXY_ENDPOINT"
FIRST_CHECK_WAIT_S = 2.0
_NONE = ("", "none", "null")


@dataclass(frozen=True)
class ProbeState:
    status: GpuProxyStatus
    checked_at: Optional[str] = None  # when the endpoint was last probed (ISO 8601 UTC); None: not probed
    detail: Optional[str] = None


def client_installed() -> bool:
    """Whether the GPU proxy client ships with this install."""
    import hpopt

    # A file check, not find_spec: importing hpopt.executors would load TensorFlow in the server.
    return (Path(hpopt.__file__).parent / "executors" / "gpu_proxy.py").is_file()


def configured_endpoint_setting(environ: Optional[Mapping[str, str]] = None,
                                env_file: Optional[str] = ".env") -> Optional[str]:
    """gpu_proxy_endpoint as the server's jobs read it: HYPEROPT_GPU_PROXY_ENDPOINT from the environment,
    else from ``env_file`` (none, null or empty: unset)."""
    env = os.environ if environ is None else environ
    value = env.get(ENDPOINT_VAR)
    if value is None and env_file is not None and os.path.isfile(env_file):
        from dotenv import dotenv_values

        value = dotenv_values(env_file).get(ENDPOINT_VAR)
    value = (value or "").strip()
    return None if value.lower() in _NONE else value


def _endpoint() -> Endpoint:
    return resolve_endpoint(configured_endpoint_setting())


class GpuProxyProbe:
    """Owns the probe task; ``state`` is what /health shows. One per app."""

    def __init__(self, interval_s: float, *, timeout_s: float = PROBE_TIMEOUT_S,
                 installed: Optional[bool] = None) -> None:
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._task: Optional[asyncio.Task[None]] = None
        if not (client_installed() if installed is None else installed):
            self.enabled, detail = False, "the GPU proxy client (hpopt.executors.gpu_proxy) is not installed"
        elif interval_s <= 0:
            self.enabled, detail = False, "probing is off (gpu_proxy_probe_interval_s=0)"
        else:
            self.enabled, detail = True, "the first check is under way"
        self.state = ProbeState("unknown" if self.enabled else "disabled", None, detail)

    async def check(self) -> ProbeState:
        """Resolve the endpoint afresh and probe it once; the new state."""
        try:
            endpoint = await asyncio.to_thread(_endpoint)  # reads ./.env and gpu-proxy/.env: off the event loop
        except EndpointConfigError as exc:
            state = ProbeState("not_configured", None, mask_text(str(exc)))
        else:
            result = await check_reachable(endpoint, self.timeout_s)
            state = ProbeState("reachable" if result.reachable else "unreachable", utc_stamp(), result.detail)
        if state.status != self.state.status:
            logger.info("GPU proxy: %s%s", state.status.replace("_", " "), f" ({state.detail})" if state.detail else "")
        self.state = state
        return state

    async def _run(self, first_done: asyncio.Event) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the probe must outlive any surprise; /health keeps the last state
                logger.exception("GPU proxy probe failed")
            first_done.set()
            await asyncio.sleep(self.interval_s)

    async def start(self, wait_s: float = FIRST_CHECK_WAIT_S) -> None:
        """Start checking in the background (nothing when disabled), waiting up to ``wait_s`` for the
        first verdict: a server that just started should not answer "unknown" about a prompt endpoint."""
        if self.enabled and self._task is None:
            first_done = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(first_done), name="gpu-proxy-probe")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(first_done.wait(), wait_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
