"""What the server offers: /health (open), /datasets, /modes, /objectives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

from fastapi import APIRouter, Depends

from hpopt import __version__
from hpopt.api.deps import ManagerDep, SettingsDep, errors
from hpopt.api.schemas import DatasetOut, GpuProxyOut, HealthOut, ModeOut, ObjectiveOut
from hpopt.api.security import require_api_key
from hpopt.config import HEALTH_ONLY_OBJECTIVES, OBJECTIVES_BY_MODE, OptimizationConfig
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
    import hpopt

    # A file check, not find_spec: importing hpopt.executors would load TensorFlow here.
    installed = (Path(hpopt.__file__).parent / "executors" / "gpu_proxy.py").is_file()
    return GpuProxyOut(
        client_installed=installed,
        credentials_configured=bool(os.environ.get("RUNPOD_API_KEY")),
        # /health needs no key: a password in the operator's endpoint URL is masked
        endpoint=mask_text(os.environ.get("HYPEROPT_GPU_PROXY_ENDPOINT") or "") or None,
        enabled_by_default=os.environ.get("HYPEROPT_USE_GPU_PROXY", "").strip().lower() in _TRUE,
    )


@health_router.get("/health", response_model=HealthOut, summary="Server status (no API key needed)")
async def health(manager: ManagerDep,
                 settings: SettingsDep) -> HealthOut:
    records = manager.store.all()
    return HealthOut(
        version=__version__,
        jobs={"running": sum(r.status == "running" for r in records),
              "pending": sum(r.status == "pending" for r in records), "total": len(records)},
        max_concurrent_jobs=settings.max_concurrent_jobs,
        auth_required=settings.api_key is not None,
        gpu_proxy=_gpu_proxy_status(),
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
