"""Settings of an optimization run: the model, where values come from, and what errors say.

``load_config`` layers defaults < .env < HYPEROPT_* environment variables < command line into
one frozen OptimizationConfig and turns every mistake into one ConfigError a user can act on.
Nothing heavy is imported here: the CLI answers --help and config errors from this package.

Modules, one idea each: ``choices`` (objectives per mode, storage schemes, old spellings),
``names`` (what a run folder may be called), ``options`` (the model and its checks),
``errors`` (ConfigError and its wording), ``loading`` (the layered loader).
"""

from __future__ import annotations

from hpopt.config.choices import (
    ALIASES,
    ALL_MODE_OBJECTIVES,
    HEALTH_ONLY_OBJECTIVES,
    OBJECTIVES_BY_MODE,
    PARETO_OBJECTIVES,
    STORAGE_URL_PREFIXES,
    VALUE_ALIASES,
)
from hpopt.config.errors import ConfigError, describe_allowed, describe_range, explain_validation_error
from hpopt.config.loading import NON_CONFIG_ENV_VARS, load_config
from hpopt.config.names import SERVER_FILE_NAMES, reserved_name_problem
from hpopt.config.options import OptimizationConfig

__all__ = [
    "ALIASES", "ALL_MODE_OBJECTIVES", "HEALTH_ONLY_OBJECTIVES", "NON_CONFIG_ENV_VARS",
    "OBJECTIVES_BY_MODE", "PARETO_OBJECTIVES", "STORAGE_URL_PREFIXES", "VALUE_ALIASES", "ConfigError",
    "OptimizationConfig", "SERVER_FILE_NAMES", "describe_allowed", "describe_range", "explain_validation_error",
    "load_config", "reserved_name_problem",
]
