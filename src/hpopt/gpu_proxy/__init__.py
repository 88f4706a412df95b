"""The GPU proxy: train trials on a RunPod serverless endpoint with the same results as local.

The client (``hpopt.executors.gpu_proxy``) sends a declarative TrialSpec and a data
reference, never code; the worker (``gpu-proxy/handler.py`` -> ``hpopt.gpu_proxy.worker``)
validates both with pydantic, runs the same ``run_trial`` as local training and streams one
record per epoch back. Modules, one concept each:

    errors       what failed, sorted by what the run does about it (fall back, stop, fail the trial)
    protocol     the wire format (pydantic models shared by both sides)
    payload      arrays <-> compressed, content-addressed payloads (no pickle, ever)
    sampling     the explicit stratified sample of gpu_proxy_sample_percentage
    pruning      per-epoch pruning thresholds the worker applies to itself
    data_cache   the worker's per-process cache of datasets by sha256
    worker       the worker's handler (async generator; trains in a thread)
    credentials  RUNPOD_API_KEY / RUNPOD_ENDPOINT_ID from the environment, ./.env or gpu-proxy/.env
    endpoint     where the endpoint is (RunPod id or URL) and how to authenticate
    transport    HTTP with retries and backoff
    jobs         RunPod's /run, /stream and /cancel job protocol
    client       the endpoint's operations: train, health_check, system_info, probe
    data_link    what data reference each request carries (builtin name or inline payload)
    records      worker records -> EpochRecord / TrialResult / the model with the trained weights
    discovery    finding (or cloning) the worker code
    setup        building the executor from the config
    reachability whether the endpoint answers HTTP (the API's background /health probe)
    status       proxy_status(), a full report with a synchronous probe
"""

from typing import Any

from hpopt.gpu_proxy.errors import GpuProxyError, GpuProxyRunStopped, GpuProxyUnavailable, RemoteTrialError

__all__ = ["GpuProxyError", "GpuProxyRunStopped", "GpuProxyUnavailable", "RemoteTrialError", "proxy_status"]


def __getattr__(name: str) -> Any:
    """proxy_status on first use: importing a light module of this package (credentials, for --help)
    then does not load httpx and the protocol models."""
    if name == "proxy_status":
        from hpopt.gpu_proxy.status import proxy_status

        return proxy_status
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
