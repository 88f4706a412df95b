"""hpopt: hyperparameter optimization of Keras CNN and LSTM models with Optuna.

The public API, for use from Python (the CLI and the API server are built on it)::

    from hpopt import load_config, run_optimization
    run_dir = run_optimization(load_config(["dataset=digits", "trials=5"]))

Names load on first use (PEP 562), so ``import hpopt`` (and the CLI's --help) never imports
TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_config": "hpopt.config",
    "OptimizationConfig": "hpopt.config",
    "ConfigError": "hpopt.config",
    "load_dataset": "hpopt.datasets",
    "TrialSpec": "hpopt.spec",
    "TrialResult": "hpopt.spec",
    "run_trial": "hpopt.training",
    "run_optimization": "hpopt.runner",
    "NoCompleteTrialsError": "hpopt.runner",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hpopt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
