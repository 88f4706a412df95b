"""proxy_status(): everything a curious user (or a script) may want to know about the GPU proxy.

The API's /health does not call it: it shows the last result of a background check
(hpopt.api.gpu_proxy_probe), so it never waits on the network.

Cheap and side-effect free: it never clones, and its probe uses RunPod's GET /health, which
does not start a worker (a server without that route, such as the SDK's local API server,
gets a health_check job). Never raises; problems are reported in ``error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from hpopt.config.endpoints_file import EndpointsFileError, read_endpoints_file
from hpopt.gpu_proxy.discovery import default_search_dirs, find_proxy_code
from hpopt.gpu_proxy.endpoint import EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.protocol import PROTOCOL_VERSION
from hpopt.gpu_proxy.transport import RetryPolicy
from hpopt.masking import mask_text
from hpopt.run_clock import utc_stamp

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig


def proxy_status(config: Optional["OptimizationConfig"] = None, *, probe: bool = True,
                 timeout_s: float = 5.0) -> dict[str, Any]:
    """The GPU proxy's state for ``config`` (default: the environment's HYPEROPT_* settings).

    ``state`` is one of: disabled (use_gpu_proxy=false and nothing configured),
    not_configured (no endpoint), unchecked (probe=False), reachable, unreachable.
    """
    status: dict[str, Any] = {
        "state": "unchecked", "enabled": False, "endpoint": None, "endpoint_source": None,
        "reachable": None, "protocol": PROTOCOL_VERSION, "fallback_local": None, "concurrency": None,
        "code": None, "details": None, "error": None,
        "checked_at": utc_stamp(),
    }
    try:
        if config is None:
            from hpopt.config import load_config

            config = load_config()
    except Exception as exc:  # noqa: BLE001 - a status call reports, it does not fail
        status.update(state="not_configured", error=mask_text(f"settings: {exc}"))
        return status
    status.update(enabled=config.use_gpu_proxy, fallback_local=config.gpu_proxy_fallback_local,
                  concurrency=config.gpu_proxy_concurrency)
    code = find_proxy_code(default_search_dirs())
    status["code"] = code.as_dict() if code else {
        "path": None, "auto_clone": config.gpu_proxy_auto_clone, "repo_url": mask_text(config.gpu_proxy_repo_url),
        "ref": config.gpu_proxy_ref}
    try:
        # with gpu_proxy_endpoints: the first endpoint (the one gpu_tier=fixed uses)
        configured = (read_endpoints_file(config.gpu_proxy_endpoints)[0].endpoint if config.gpu_proxy_endpoints
                      else config.gpu_proxy_endpoint)
        endpoint = resolve_endpoint(configured)
    except (EndpointConfigError, EndpointsFileError) as exc:
        status.update(state="not_configured" if config.use_gpu_proxy else "disabled", error=mask_text(str(exc)))
        return status
    status.update(endpoint=mask_text(endpoint.base_url), endpoint_source=endpoint.source)
    if not probe:
        return status
    from hpopt.gpu_proxy.client import GpuProxyClient

    client = GpuProxyClient(endpoint, max_request_bytes=int(config.gpu_proxy_max_payload_mb * 1_000_000),
                            policy=RetryPolicy(attempts=1))
    try:
        status.update(details=client.probe(timeout_s=timeout_s), reachable=True, state="reachable")
    except Exception as exc:  # noqa: BLE001 - GpuProxyError or anything unexpected: reported
        status.update(reachable=False, state="unreachable", error=mask_text(endpoint.redact(str(exc))))
    finally:
        client.close()
    return status
