"""load_config: defaults < .env < HYPEROPT_* environment < command line (or an API body).

The layers are read by hpopt.config.layers (shared with the API server's settings). Every layer
arrives as strings (or JSON values from the API) and is parsed here the same way, so
``trials=10``, ``HYPEROPT_TRIALS=10`` and ``{"trials": 10}`` mean the same run; each value
remembers where it was set so an error can say which line or variable to fix.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from collections.abc import Mapping
from typing import Any, Callable, Literal, Optional, get_args, get_origin

from pydantic import ValidationError

from hpopt.config.choices import ALIASES, VALUE_ALIASES, value_alias
from hpopt.config.errors import ConfigError, explain_validation_error, invalid_value, unknown_key
from hpopt.config.layers import ENV_PREFIX, KeyPolicy, layered
from hpopt.config.options import OptimizationConfig, field_type

__all__ = ["ENV_PREFIX", "NON_CONFIG_ENV_VARS", "load_config"]

# Records keep the package's name, as before the split: log filters and tests select "hpopt.config".
logger = logging.getLogger("hpopt.config")

# HYPEROPT_* variables read by other parts of hpopt (API server, clients): not config keys.
NON_CONFIG_ENV_VARS: frozenset[str] = frozenset({
    "HYPEROPT_API_KEY", "HYPEROPT_OFFLINE", "HYPEROPT_HOST", "HYPEROPT_PORT",
    "HYPEROPT_MAX_CONCURRENT_JOBS", "HYPEROPT_API_URL", "HYPEROPT_JOBS_DIR",
    "HYPEROPT_STOP_GRACE_S", "HYPEROPT_MAX_BODY_BYTES", "HYPEROPT_CORS_ORIGINS", "HYPEROPT_JOB_NICE",
    "HYPEROPT_SERVER_LOG_LEVEL", "HYPEROPT_TEST_POSTGRES_URL", "HYPEROPT_WORKER_INDEX",
    "HYPEROPT_DATA_ROOTS", "HYPEROPT_MAX_JOB_TRIALS", "HYPEROPT_MAX_JOB_EPOCHS", "HYPEROPT_MAX_JOB_WORKERS",
    "HYPEROPT_MAX_QUEUED_JOBS", "HYPEROPT_ALLOW_SHARED_STUDIES", "HYPEROPT_GPU_PROXY_PROBE_INTERVAL_S",
    "HYPEROPT_MAX_PREDICT_UPLOAD_BYTES", "HYPEROPT_MAX_PREDICT_TEXTS", "HYPEROPT_MAX_PREDICT_TEXT_CHARS",
    "HYPEROPT_PREDICT_TIMEOUT_S", "HYPEROPT_MAX_CONCURRENT_PREDICTIONS",
    "HYPEROPT_NOTIFY_ALLOWED_HOSTS",
})
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_NONE = {"", "none", "null"}
_REJECT: Any = object()  # what a value parser returns for a value its type cannot take


def _canonical(key: str) -> Optional[str]:
    key = ALIASES.get(key, key)
    return key if key in OptimizationConfig.model_fields else None


def _as_bool(raw: Any, text: Optional[str]) -> Any:
    if isinstance(raw, bool):
        return raw
    if text is not None and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    return _REJECT


def _as_int(raw: Any, text: Optional[str]) -> Any:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if text is not None and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return _REJECT


def _as_float(raw: Any, text: Optional[str]) -> Any:
    value = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    if text is not None:
        try:
            value = float(text)
        except ValueError:
            value = None
    return float(value) if value is not None and math.isfinite(value) else _REJECT


def _as_text(raw: Any, text: Optional[str]) -> Any:
    return text if text is not None else _REJECT


_PARSERS: dict[Any, Callable[[Any, Optional[str]], Any]] = {bool: _as_bool, int: _as_int, float: _as_float}


def _as_choice(base: Any, text: Optional[str]) -> Any:
    """The Literal choice ``text`` spells in any case: the field stores the canonical one."""
    for choice in get_args(base):
        if text is not None and text.lower() == str(choice).lower():
            return choice
    return _REJECT


def _parse_value(key: str, raw: Any, source: str) -> Any:
    """Turn a command-line/env string (or an API JSON value) into the field's type."""
    optional, base = field_type(key)
    if raw is None or (isinstance(raw, str) and optional and raw.strip().lower() in _NONE):
        if optional:
            return None
        raise invalid_value(key, raw, source)
    text = raw.strip() if isinstance(raw, str) else None
    if text is not None and key in VALUE_ALIASES:
        text = value_alias(key, text)
    if get_origin(base) is dict:  # search_space: a file path (CLI, env) or a mapping (API, config.json)
        value = dict(raw) if isinstance(raw, Mapping) else text if text else _REJECT
    elif get_origin(base) is Literal:
        value = _as_choice(base, text)
    else:
        value = _PARSERS.get(base, _as_text)(raw, text)
    if value is _REJECT:
        raise invalid_value(key, raw, source)
    return value


def _warn_not_a_setting(var: str, where: str) -> None:
    """A misspelt HYPEROPT_ variable is only a warning: other tools (and older hpopt) share the prefix."""
    if var in NON_CONFIG_ENV_VARS:
        return
    close = difflib.get_close_matches(var[len(ENV_PREFIX):].lower(), [*OptimizationConfig.model_fields, *ALIASES], n=1)
    hint = f" — did you mean {ENV_PREFIX}{close[0].upper()}?" if close else ""
    logger.warning("ignoring %s in %s: not a setting%s", var, where, hint)


CONFIG_KEYS = KeyPolicy(canonical=_canonical, unknown_arg=unknown_key, error=ConfigError,
                        unknown_env=_warn_not_a_setting)


def load_config(
    args: Mapping[str, Any] | list[str] = (),
    *,
    environ: Optional[Mapping[str, str]] = None,
    env_file: Optional[str | os.PathLike[str]] = ".env",
) -> OptimizationConfig:
    """Build the config from defaults < env_file < HYPEROPT_* in environ < args.

    ``args`` is the command line (``["trials=10", ...]``) or a mapping (the API's JSON);
    strings are parsed as on the command line, typed values must already have the right
    type. ``env_file`` is read without touching os.environ; None skips it. Raises
    ConfigError with one message a user can act on.
    """
    merged = layered(args, CONFIG_KEYS, environ=environ, env_file=env_file)
    parsed = {key: _parse_value(key, value, source) for key, (value, source) in merged.items()}
    try:
        return OptimizationConfig.model_validate(parsed)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(exc, merged)) from None
