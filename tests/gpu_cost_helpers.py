"""Helpers of the GPU cost, budget and tier tests (not a test module): an endpoints file naming the
two session workers (conftest.priced_workers) and a small digits config that uses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import yaml

from hpopt.config import load_config

CHEAP_USD_H, DEAR_USD_H = 1.0, 3.0


def endpoints_file(folder: Path, workers, cheap_memory_gb: Optional[float] = None,
                   dear_memory_gb: Optional[float] = None) -> Path:
    cheap, dear = workers
    entries = [{"name": "cheap", "endpoint": cheap.url, "usd_per_hour": CHEAP_USD_H},
               {"name": "dear", "endpoint": dear.url, "usd_per_hour": DEAR_USD_H}]
    for entry, memory in zip(entries, (cheap_memory_gb, dear_memory_gb)):
        if memory is not None:
            entry["memory_gb"] = memory
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "endpoints.yaml"
    path.write_text(yaml.safe_dump({"endpoints": entries}))
    return path


def cost_config(results: Path, endpoints: Path, *args: str):
    settings = {"results_dir": str(results), "dataset": "digits", "min_epochs_per_trial": "1",
                "max_epochs_per_trial": "1", "warm_start": "false", "plot_generation": "none",
                "use_gpu_proxy": "true", "gpu_proxy_endpoints": str(endpoints), "pruner": "none",
                "save_best_model": "false"}
    settings.update(arg.split("=", 1) for arg in args)
    return load_config(settings, environ={}, env_file=None)


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
