"""The vocabulary of settings: objectives per mode, storage URL schemes, and old spellings.

Kept apart from the model so the API (which lists objectives per mode) and the error wording
read the same lists. Objective names come from hpopt.scoring, which scores them, so a name
can be accepted only if it can be scored.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from hpopt.scoring import OBJECTIVES, PARETO_OBJECTIVES

__all__ = [
    "ALIASES", "ALL_MODE_OBJECTIVES", "HEALTH_ONLY_OBJECTIVES", "OBJECTIVES_BY_MODE", "Objective",
    "PARETO_OBJECTIVES", "STORAGE_URL_PREFIXES", "VALUE_ALIASES", "aliases_of", "value_alias",
]

# Records keep the package's name, as before the split: log filters and tests select "hpopt.config".
logger = logging.getLogger("hpopt.config")

# Objectives that score model health: without mode=health there is no health to score.
HEALTH_ONLY_OBJECTIVES: tuple[str, ...] = ("overall_health", "neuron_utilization", "training_stability")
ALL_MODE_OBJECTIVES: tuple[str, ...] = tuple(name for name in OBJECTIVES if name not in HEALTH_ONLY_OBJECTIVES)
OBJECTIVES_BY_MODE: dict[str, tuple[str, ...]] = {
    "simple": ALL_MODE_OBJECTIVES,
    "health": ALL_MODE_OBJECTIVES + HEALTH_ONLY_OBJECTIVES,
    "pareto": ("val_accuracy",),
}
# Every objective hpopt.scoring can score, in its order (--help, errors and the API list them so).
Objective = Literal[tuple(OBJECTIVES)]  # type: ignore[valid-type]  # built from the scorers' names

STORAGE_URL_PREFIXES: tuple[str, ...] = (
    "sqlite:///", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://", "mysql://", "mysql+pymysql://",
)
# Other names of keys: alias -> key. The model accepts them too (see aliases_of).
ALIASES: dict[str, str] = {"max_epochs": "max_epochs_per_trial", "gpu_proxy_fallback": "gpu_proxy_fallback_local"}
# Old spellings of values: key -> {old value: (current value, warning shown when the old one is used)}.
VALUE_ALIASES: dict[str, dict[str, tuple[str, str]]] = {
    "optimize_for": {"accuracy": (
        "train_accuracy",
        "optimize_for=accuracy means training accuracy (now spelled train_accuracy): trials are "
        "selected on how well they fit the training data; use optimize_for=val_accuracy to select on "
        "validation data")},
}


def aliases_of(key: str) -> tuple[str, ...]:
    """``key`` followed by its ALIASES, the names the model accepts for it (config.json, the API)."""
    return (key, *(alias for alias, target in ALIASES.items() if target == key))


def value_alias(key: str, value: Any) -> Any:
    """The current spelling of an old value (VALUE_ALIASES), with its warning; else ``value``."""
    if isinstance(value, str):
        alias = VALUE_ALIASES.get(key, {}).get(value.strip().lower())
        if alias is not None:
            logger.warning(alias[1])
            return alias[0]
    return value
