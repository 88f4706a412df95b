"""gpu_proxy_endpoints=<file.yaml>: several GPU proxy endpoints, each with a price and memory.

The file is the operator's (an API request cannot name it): a list of endpoints, or a mapping
with an ``endpoints`` list, each entry ``{name, endpoint, usd_per_hour?, memory_gb?}``::

    endpoints:
      - {name: small, endpoint: abc123xyz, usd_per_hour: 0.58, memory_gb: 24}
      - {name: large, endpoint: https://api.runpod.ai/v2/def456, usd_per_hour: 2.72, memory_gb: 80}

Read and checked when the config is loaded, so a mistake is one line before any run starts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

__all__ = ["EndpointEntry", "EndpointsFileError", "checked_endpoints_file", "check_endpoint_keys",
           "read_endpoints_file"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KEYS = ("name", "endpoint", "usd_per_hour", "memory_gb")


class EndpointsFileError(ValueError):
    """One line: which file, which entry, what is wrong, what is allowed."""


@dataclass(frozen=True)
class EndpointEntry:
    """One priced endpoint; ``usd_per_hour`` None: priced from the GPU its worker reports."""

    name: str
    endpoint: str
    usd_per_hour: Optional[float] = None
    memory_gb: Optional[float] = None


def _number(path: Path, where: str, key: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise EndpointsFileError(f"{path}: {where}: {key}={value!r} is not allowed: expected a number ≥ 0")
    return float(value)


def read_endpoints_file(path_text: str) -> list[EndpointEntry]:
    """The file's endpoints, in order (the first is the one gpu_tier=fixed uses)."""
    path = Path(path_text).expanduser()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EndpointsFileError(f"{path}: cannot be read ({exc.strerror or exc}): expected a YAML file "
                                 "listing the endpoints") from None
    except yaml.YAMLError as exc:
        raise EndpointsFileError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    entries = raw.get("endpoints") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise EndpointsFileError(f"{path}: expected a non-empty list of endpoints (or a mapping with an "
                                 "'endpoints' list), each {name, endpoint, usd_per_hour?, memory_gb?}")
    result: list[EndpointEntry] = []
    for index, entry in enumerate(entries, start=1):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise EndpointsFileError(f"{path}: {where} is not a mapping: expected "
                                     "{name, endpoint, usd_per_hour?, memory_gb?}")
        unknown = sorted(set(map(str, entry)) - set(_KEYS))
        if unknown:
            raise EndpointsFileError(f"{path}: {where}: unknown key {unknown[0]!r}: allowed {', '.join(_KEYS)}")
        name, endpoint = entry.get("name"), entry.get("endpoint")
        if not isinstance(name, str) or not _NAME.match(name):
            raise EndpointsFileError(f"{path}: {where}: name={name!r} is not allowed: expected 1-64 letters, "
                                     "digits, '.', '_' or '-'")
        where = f"endpoint {name!r}"
        if any(e.name == name for e in result):
            raise EndpointsFileError(f"{path}: {where} is listed twice: names must be unique")
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise EndpointsFileError(f"{path}: {where}: endpoint is missing: expected a RunPod endpoint id or a "
                                     "URL (http://... or https://...)")
        result.append(EndpointEntry(name, endpoint.strip(), _number(path, where, "usd_per_hour",
                                                                    entry.get("usd_per_hour")),
                                    _number(path, where, "memory_gb", entry.get("memory_gb"))))
    return result


def checked_endpoints_file(value: Optional[str]) -> Optional[str]:
    """The config's check of gpu_proxy_endpoints: the file reads, or a ValueError with its one line."""
    if value is not None:
        try:
            read_endpoints_file(value)
        except EndpointsFileError as exc:
            raise ValueError(str(exc)) from None
    return value


def check_endpoint_keys(endpoints: Optional[str], endpoint: Optional[str], usd_per_hour: Optional[float]) -> None:
    """ValueError when gpu_proxy_endpoints contradicts the single endpoint's keys."""
    if endpoints is not None and endpoint is not None:
        raise ValueError("gpu_proxy_endpoints and gpu_proxy_endpoint are both set: allowed one of them (list the "
                         "single endpoint in the file, or unset gpu_proxy_endpoints)")
    if endpoints is not None and usd_per_hour is not None:
        raise ValueError("gpu_proxy_usd_per_hour prices the single gpu_proxy_endpoint: with gpu_proxy_endpoints "
                         "give each endpoint its usd_per_hour in the file")
