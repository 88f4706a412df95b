"""What the GPU proxy executor is built from, read off the config: the data link (a built-in
dataset by name, or a sample of arrays) and the worker code check. The executor itself is
assembled in hpopt.executors.gpu_proxy, which imports this module (never the reverse)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.discovery import ProxyCode, ProxyCodeError, locate_proxy_code
from hpopt.gpu_proxy.protocol import BuiltinData

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)


def builtin_reference(config: "OptimizationConfig") -> Optional[BuiltinData]:
    """The by-name reference when the worker can load the same arrays itself."""
    from hpopt.datasets import BUILTIN_DATASETS

    if config.dataset not in BUILTIN_DATASETS:
        return None
    return BuiltinData(name=config.dataset, **config.split_options())


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
