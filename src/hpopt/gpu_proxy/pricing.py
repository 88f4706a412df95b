"""What a GPU second costs, when the operator did not say (gpu_proxy_usd_per_hour / usd_per_hour).

Figures: RunPod serverless, flex workers, USD per second, from the pricing table at
https://docs.runpod.io/serverless/pricing as read on 2026-12-02. Flex is the scale-to-zero
tier an hpopt endpoint normally uses; active workers cost 20-30% less, so set a price
explicitly for those. RunPod bills a worker from start to stop (cold start and idle time
included), so a trial's cost here is a lower bound of the bill: its execution time only.

Keys are matched against the GPU name the worker's system_info reports (nvidia-smi's name,
e.g. "NVIDIA A100 80GB PCIe", "NVIDIA GeForce RTX 4090"): the first pattern found in the
upper-cased name wins, so the more specific patterns come first.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

__all__ = ["PRICES_SOURCE", "USD_PER_SECOND", "price_for_gpu", "price_from_system_info"]

PRICES_SOURCE = "RunPod serverless flex prices, https://docs.runpod.io/serverless/pricing, read 2026-12-02"

# (pattern in the upper-cased GPU name, USD per second)
USD_PER_SECOND: tuple[tuple[str, float], ...] = (
    ("B200", 0.00240),
    ("H200", 0.00155),
    ("H100", 0.00116),
    ("A100", 0.00076),
    ("L40", 0.00053),  # L40, L40S
    ("6000 ADA", 0.00053),
    ("A6000", 0.00034),
    ("A40", 0.00034),
    ("4090", 0.00031),
    ("A5000", 0.00019),
    ("3090", 0.00019),
    ("L4", 0.00019),
    ("A4500", 0.00016),
    ("A4000", 0.00016),
    ("RTX 4000", 0.00016),
)


def price_for_gpu(name: str) -> Optional[float]:
    """USD per hour of the GPU called ``name``; None when the table does not know it."""
    upper = " ".join(name.upper().split())
    for pattern, per_second in USD_PER_SECOND:
        if pattern in upper:
            return round(per_second * 3600, 6)
    return None


def price_from_system_info(info: dict[str, Any]) -> tuple[Optional[float], Optional[str]]:
    """(USD per hour, GPU name) of a worker from its system_info record; a worker with several GPUs
    pays for each. (None, name or None) when there is no GPU or it is not in the table."""
    gpus: Iterable[Any] = info.get("gpus") or []
    names = [str(g.get("name", "")) for g in gpus if isinstance(g, dict)]
    if not names:
        return None, None
    prices = [price_for_gpu(n) for n in names]
    if any(p is None for p in prices):
        return None, names[0]
    return round(sum(p for p in prices if p is not None), 6), names[0]
