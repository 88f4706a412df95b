"""What the server offers: /health (open), /datasets, /modes, /objectives."""

from __future__ import annotations

import os
from typing import Optional, get_args

from fastapi import APIRouter, Depends, Request

from hpopt import __version__
from hpopt.api.deps import ManagerDep, SettingsDep, errors
from hpopt.api.gpu_proxy_probe import GpuProxyProbe, ProbeState, client_installed, configured_endpoint_setting
from hpopt.api.schemas import DatasetOut, GpuProxyOut, HealthOut, ModeOut, ObjectiveOut
from hpopt.api.security import require_api_key
from hpopt.config import HEALTH_ONLY_OBJECTIVES, OBJECTIVES_BY_MODE, OptimizationConfig
from hpopt.gpu_proxy.credentials import load_credentials
from hpopt.masking import mask_text

health_router = APIRouter(tags=["server"])
router = APIRouter(tags=["server"], dependencies=[Depends(require_api_key)], responses=errors())

_TRUE = ("1", "true", "yes", "on")
MODE_TEXT = {
    "simple": "score each trial on the chosen objective alone",
    "health": "blend the objective with model health: (1 - health_weight) * objective + health_weight * health",
    "pareto": "optimize val_accuracy and overall_health together; the result is a Pareto front",
}


def _gpu_proxy_status() -> GpuProxyOut:
    """Configuration only, never a network call: /health must answer instantly."""
    credentials = load_credentials()
    return GpuProxyOut(
        client_installed=client_installed(),
        credentials_configured=credentials.api_key is not None,
        api_key_source=credentials.api_key_source,
        endpoint_id_source=credentials.endpoint_id_source,
        # /health needs no key: a password in the operator's endpoint URL is masked
        endpoint=mask_text(configured_endpoint_setting() or "") or None,
        enabled_by_default=os.environ.get("HYPEROPT_USE_GPU_PROXY", "").strip().lower() in _TRUE,
    )


@health_router.get("/health", response_model=HealthOut, summary="Server status (no API key needed)")
async def health(request: Request, manager: ManagerDep, settings: SettingsDep) -> HealthOut:
    """Jobs, whether a key is needed, and the GPU proxy: its configuration and the last background check
    of its endpoint (gpu_proxy_status; never checked during the request, so this answers at once)."""
    records = manager.store.all()
    probe: Optional[GpuProxyProbe] = getattr(request.app.state, "gpu_proxy_probe", None)
    state = probe.state if probe is not None else ProbeState("unknown")
    return HealthOut(
        version=__version__,
        jobs={"running": sum(r.status == "running" for r in records),
              "pending": sum(r.status == "pending" for r in records), "total": len(records)},
        max_concurrent_jobs=settings.max_concurrent_jobs,
        auth_required=settings.api_key is not None,
        gpu_proxy=_gpu_proxy_status(),
        gpu_proxy_status=state.status,
        gpu_proxy_checked_at=state.checked_at,
        gpu_proxy_detail=state.detail,
    )


@router.get("/datasets", response_model=list[DatasetOut], summary="Built-in datasets")
async def datasets() -> list[DatasetOut]:
    """Every built-in dataset and whether its files are already on the server.

    Custom data (a folder of class subfolders, a Keras-layout .npz, a .csv/.tsv) is given
    to POST /optimize as a path on the server.
    """
    from hpopt.datasets import BUILTIN_DATASETS, is_available_offline

    data_dir = os.environ.get("HYPEROPT_DATA_DIR") or None
    return [DatasetOut(name=info.name, modality=info.modality, input_shape=list(info.input_shape),
                       num_classes=info.num_classes, description=info.description, bundled=info.bundled,
                       available_offline=is_available_offline(info.name, data_dir))
            for info in BUILTIN_DATASETS.values()]


@router.get("/modes", response_model=list[ModeOut], summary="Scoring modes")
async def modes() -> list[ModeOut]:
    return [ModeOut(name=name, description=MODE_TEXT.get(name, ""), objectives=list(objectives))
            for name, objectives in OBJECTIVES_BY_MODE.items()]


@router.get("/objectives", response_model=list[ObjectiveOut], summary="Objectives for optimize_for")
async def objectives() -> list[ObjectiveOut]:
    """Each objective and the modes in which optimize_for may name it."""
    names = get_args(OptimizationConfig.model_fields["optimize_for"].annotation)
    return [ObjectiveOut(name=name, modes=[m for m, allowed in OBJECTIVES_BY_MODE.items() if name in allowed],
                         health_only=name in HEALTH_ONLY_OBJECTIVES) for name in names]
