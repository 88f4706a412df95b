"""The endpoints a run may send trials to, each with its price and memory, and which one a trial uses.

gpu_tier=fixed sends every trial to the first endpoint (the single gpu_proxy_endpoint, or the first
of gpu_proxy_endpoints). auto picks per trial the cheapest endpoint whose memory_gb holds the
model's estimated training memory; hybrid does so too but trains models under
HYBRID_LOCAL_MAX_PARAMS parameters locally (uploading data and waiting for a remote worker costs
more than such a model's training). An endpoint without memory_gb is taken to fit any model.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from hpopt.config.endpoints_file import read_endpoints_file
from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.endpoint import EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.pricing import PRICES_SOURCE, price_from_system_info

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig
    from hpopt.spec import TrialSpec

logger = logging.getLogger(__name__)

__all__ = ["HYBRID_LOCAL_MAX_PARAMS", "OPTIMIZER_STATE_FACTOR", "Route", "choose_route", "estimate_memory",
           "routes_from_config"]

HYBRID_LOCAL_MAX_PARAMS = 20_000
# Per parameter, in training: the weights, their gradients and the optimizer's state (Adam: two moments).
OPTIMIZER_STATE_FACTOR = 4
BYTES_PER_VALUE = 4  # float32 (mixed precision halves activations: the estimate stays on the safe side)


@dataclass
class Route:
    """One endpoint: its client, configured price (USD/h) and memory (GB)."""

    name: str
    client: GpuProxyClient
    usd_per_hour: Optional[float] = None
    memory_gb: Optional[float] = None
    _looked_up: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def price(self) -> Optional[float]:
        """The configured price, else the table's for the GPU its worker reports (asked once; on
        RunPod this may start a worker). None when neither is known."""
        with self._lock:
            if self.usd_per_hour is not None or self._looked_up:
                return self.usd_per_hour
            self._looked_up = True
            try:
                price, gpu = price_from_system_info(self.client.system_info())
            except Exception as exc:  # noqa: BLE001 - a price never fails a trial; info: none was asked for
                logger.info("GPU proxy endpoint %s: no price (system_info failed: %s); its trials' cost_usd is "
                            "left empty: set usd_per_hour", self.name, exc)
                return None
            if price is None:
                logger.info("GPU proxy endpoint %s: no price for its GPU (%s) in the table (%s); its trials' "
                            "cost_usd is left empty: set usd_per_hour", self.name, gpu or "no GPU", PRICES_SOURCE)
            else:
                logger.info("GPU proxy endpoint %s: %s at %.4f USD/h (%s)", self.name, gpu, price, PRICES_SOURCE)
            self.usd_per_hour = price
            return price


def estimate_memory(spec: "TrialSpec") -> tuple[int, float]:
    """(parameters, training memory in GB) of the spec's model: parameters x bytes x
    OPTIMIZER_STATE_FACTOR plus the activations of one batch, kept for the backward pass (x2).
    The model is built here (no data, no training) to read its layer shapes."""
    from hpopt.models import build_model

    model = build_model(spec)
    params = int(model.count_params())
    values_per_sample = 0
    for layer in model.layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None:
            values_per_sample += math.prod(int(d) for d in shape[1:] if d is not None)
    batch = int(getattr(spec.architecture, "batch_size", 32))
    total = params * BYTES_PER_VALUE * OPTIMIZER_STATE_FACTOR + values_per_sample * batch * BYTES_PER_VALUE * 2
    return params, total / 1e9


def choose_route(routes: list[Route], tier: str, spec: "TrialSpec", label: Any) -> tuple[Optional[Route], str]:
    """The route trial ``label`` goes to (None: train it locally) and why, for the log."""
    if tier == "fixed" or not routes:
        return (routes[0] if routes else None), "gpu_tier=fixed"
    params, need_gb = estimate_memory(spec)
    if tier == "hybrid" and params < HYBRID_LOCAL_MAX_PARAMS:
        why = f"{params} parameters < {HYBRID_LOCAL_MAX_PARAMS} (gpu_tier=hybrid): trained locally"
        logger.info("trial %s: %s", label, why)
        return None, why
    fitting = [r for r in routes if r.memory_gb is None or r.memory_gb >= need_gb]
    if not fitting:
        largest = max(routes, key=lambda r: r.memory_gb or 0.0)
        logger.warning("trial %s: estimated %.3f GB (%d parameters) fits no endpoint's memory_gb; sent to the "
                       "largest, %s (%s GB)", label, need_gb, params, largest.name, largest.memory_gb)
        return largest, f"estimated {need_gb:.4f} GB fits no endpoint"

    def cost(route: Route) -> float:
        price = route.price()
        return math.inf if price is None else price

    chosen = min(fitting, key=cost)  # stable: the first listed wins a tie
    why = (f"estimated memory {need_gb:.4f} GB for {params} parameters (estimate: parameters x {BYTES_PER_VALUE} B x "
           f"{OPTIMIZER_STATE_FACTOR} + one batch's activations x 2); cheapest fitting endpoint: {chosen.name}")
    logger.info("trial %s: %s", label, why)
    return chosen, why


def routes_from_config(config: "OptimizationConfig") -> list[Route]:
    """One Route per configured endpoint (gpu_proxy_endpoints), else the single gpu_proxy_endpoint.
    Raises EndpointConfigError when one cannot be resolved."""
    max_bytes = int(config.gpu_proxy_max_payload_mb * 1_000_000)
    stop = threading.Event()  # one Ctrl-C ends the waits on every endpoint
    if config.gpu_proxy_endpoints is None:
        endpoint = resolve_endpoint(config.gpu_proxy_endpoint)
        logger.info("GPU proxy: %s (from %s), %d trial(s) in flight, fallback to local %s", endpoint.base_url,
                    endpoint.describe(), config.gpu_proxy_concurrency,
                    "on" if config.gpu_proxy_fallback_local else "off")
        return [Route("default", GpuProxyClient(endpoint, max_request_bytes=max_bytes, stop=stop),
                      usd_per_hour=config.gpu_proxy_usd_per_hour)]
    routes = []
    for entry in read_endpoints_file(config.gpu_proxy_endpoints):
        try:
            endpoint = resolve_endpoint(entry.endpoint)
        except EndpointConfigError as exc:
            raise EndpointConfigError(f"endpoint {entry.name!r} of {config.gpu_proxy_endpoints}: {exc}") from None
        routes.append(Route(entry.name, GpuProxyClient(endpoint, max_request_bytes=max_bytes, stop=stop),
                            usd_per_hour=entry.usd_per_hour, memory_gb=entry.memory_gb))
        logger.info("GPU proxy endpoint %s: %s, %s USD/h, %s GB", entry.name, endpoint.base_url,
                    "?" if entry.usd_per_hour is None else f"{entry.usd_per_hour:g}",
                    "?" if entry.memory_gb is None else f"{entry.memory_gb:g}")
    logger.info("GPU proxy: %d endpoints, gpu_tier=%s, %d trial(s) in flight, fallback to local %s", len(routes),
                config.gpu_tier, config.gpu_proxy_concurrency, "on" if config.gpu_proxy_fallback_local else "off")
    return routes
