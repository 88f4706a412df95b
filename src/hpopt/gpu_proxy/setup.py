"""Building the GPU proxy executor from the config: endpoint, data link, worker code, preflight."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.discovery import ProxyCode, ProxyCodeError, locate_proxy_code
from hpopt.gpu_proxy.endpoint import EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.protocol import BuiltinData

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig
    from hpopt.executors.gpu_proxy import GpuProxyExecutor

logger = logging.getLogger(__name__)


def builtin_reference(config: "OptimizationConfig") -> Optional[BuiltinData]:
    """The by-name reference when the worker can load the same arrays itself."""
    from hpopt.datasets import BUILTIN_DATASETS

    if config.dataset not in BUILTIN_DATASETS:
        return None
    return BuiltinData(name=config.dataset, validation_split=config.validation_split, test_size=config.test_size,
                       seed=config.random_seed, sequence_length=config.sequence_length,
                       vocab_size=config.vocab_size, image_size=config.image_size)


def data_link(config: "OptimizationConfig") -> DataLink:
    return DataLink(builtin_reference(config), sample_fraction=config.gpu_proxy_sample_percentage,
                    seed=config.random_seed, stratified=config.gpu_proxy_use_stratified_sampling)


def proxy_code(config: "OptimizationConfig") -> Optional[ProxyCode]:
    """The worker code (what is deployed); its absence does not stop remote training."""
    try:
        code = locate_proxy_code(config)
    except ProxyCodeError as exc:
        level = logging.WARNING if config.gpu_proxy_repo_url else logging.INFO
        logger.log(level, "GPU proxy worker code: %s", exc)
        return None
    logger.info("GPU proxy worker code: %s (%s%s)", code.path, code.source,
                f", commit {code.commit}" if code.commit else "")
    return code


def build_executor(config: "OptimizationConfig") -> "GpuProxyExecutor":
    from hpopt.executors.gpu_proxy import GpuProxyExecutor

    proxy_code(config)
    options = dict(fallback_local=config.gpu_proxy_fallback_local, timeout_s=config.gpu_proxy_timeout_s,
                   return_weights=config.save_best_model, concurrency=config.gpu_proxy_concurrency)
    try:
        endpoint = resolve_endpoint(config.gpu_proxy_endpoint)
    except EndpointConfigError as exc:
        executor = GpuProxyExecutor(None, data_link(config), unavailable=str(exc), **options)
        executor.preflight()
        return executor
    client = GpuProxyClient(endpoint, max_request_bytes=int(config.gpu_proxy_max_payload_mb * 1_000_000))
    executor = GpuProxyExecutor(client, data_link(config), **options)
    logger.info("GPU proxy: %s (from %s), %d trial(s) in flight, fallback to local %s", endpoint.base_url,
                endpoint.source, config.gpu_proxy_concurrency, "on" if config.gpu_proxy_fallback_local else "off")
    executor.preflight()
    if config.gpu_proxy_concurrency > 1:
        executor.watch_interrupts()
    return executor
