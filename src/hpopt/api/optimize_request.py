"""POST /optimize bodies: the seed's shape and the flat CLI keys, turned into a config.

The body is validated by ``hpopt.config.load_config``, the CLI's own function, so a
mistake gets the CLI's message (key, value, allowed values, closest key). The pydantic
model below only documents the body in OpenAPI; it never validates, because its messages
would differ from the CLI's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field, create_model

from hpopt.config import ALIASES, ConfigError, OptimizationConfig, load_config

__all__ = ["RequestError", "config_from_body", "optimize_request_schema", "SERVER_OWNED_KEYS"]

SEED_ALIASES = {"dataset_name": "dataset"}
SERVER_OWNED_KEYS = ("results_dir",)
EXAMPLE = {"dataset_name": "digits", "mode": "simple", "optimize_for": "val_accuracy", "trials": 5,
           "config_overrides": {"max_epochs_per_trial": 3, "min_epochs_per_trial": 1}}
FLAT_EXAMPLE = {"dataset": "digits", "trials": 3, "max_epochs": 2, "min_epochs_per_trial": 1,
                "plot_generation": "best"}


class RequestError(ValueError):
    """A body the config model rejects; ``key`` is the field to blame (None: the body)."""

    def __init__(self, message: str, key: Optional[str] = None, value: Any = None) -> None:
        super().__init__(message)
        self.key, self.value = key, value


def _blamed_key(message: str) -> Optional[str]:
    match = re.match(r"unknown key '([^']+)'", message) or re.match(r"(\w+)(?:=| given twice| and )", message)
    return match.group(1) if match else None


def _flatten(body: dict[str, Any]) -> dict[str, Any]:
    """Seed shape + flat keys -> one mapping of config keys; a key given twice is an error."""
    overrides = body.get("config_overrides")
    if overrides is not None and not isinstance(overrides, dict):
        raise RequestError("config_overrides must be an object of key: value pairs", "config_overrides", overrides)
    merged: dict[str, Any] = {}
    items = [(k, v, k) for k, v in body.items() if k != "config_overrides"]
    items += [(k, v, f"config_overrides.{k}") for k, v in (overrides or {}).items()]
    seen: dict[str, str] = {}
    for key, value, where in items:
        name = SEED_ALIASES.get(key, key)
        if name in seen:
            raise RequestError(f"{name} given twice: as {seen[name]!r} and {where!r}; keep one", name, value)
        seen[name] = where
        # An integer reads as the CLI's text would (so messages show 2, not 2.0); others keep their type.
        merged[name] = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return merged


def _check_server_owned(values: dict[str, Any], results_dir: Path) -> None:
    for key in SERVER_OWNED_KEYS:
        if key in values:
            raise RequestError(f"{key} is set by the server ({results_dir}); remove it from the request", key,
                               values[key])
    run_name = values.get("run_name")
    if isinstance(run_name, str) and run_name.startswith("."):
        raise RequestError(f"run_name={run_name!r} is not valid: names starting with '.' are reserved for the "
                           "server's own records", "run_name", run_name)
    storage = values.get("storage")
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        target = Path(storage[len("sqlite:///"):]).expanduser().resolve()
        if not target.is_relative_to(results_dir):
            raise RequestError(f"storage={storage!r} is not valid: a SQLite storage must be a file inside the "
                               f"server's results folder ({results_dir}); or use a postgresql:// URL", "storage",
                               storage)


def config_from_body(body: Any, results_dir: Path, env_file: Optional[str] = ".env") -> OptimizationConfig:
    """Validate a request body exactly as the CLI validates its arguments."""
    if not isinstance(body, dict):
        raise RequestError("expected a JSON object of settings, e.g. " + str(EXAMPLE))
    values = _flatten(body)
    _check_server_owned(values, results_dir)
    values["results_dir"] = str(results_dir)
    try:
        return load_config(values, environ=os.environ, env_file=env_file)
    except ConfigError as exc:
        message = str(exc)
        key = _blamed_key(message)
        raise RequestError(message, key, values.get(key) if key else None) from None


def _documented_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "dataset_name": (Optional[str], Field(None, description="the seed's name for dataset")),
        "config_overrides": (Optional[dict[str, Any]], Field(
            None, description="more settings as key: value (any key below); a key may not also be given "
                              "at the top level")),
    }
    for name, info in OptimizationConfig.model_fields.items():
        if name in SERVER_OWNED_KEYS:
            continue
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (annotation, Field(info.default, description=info.description))
    for alias, target in ALIASES.items():
        info = OptimizationConfig.model_fields[target]
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[alias] = (annotation, Field(info.default, description=f"alias of {target}"))
    return fields


def optimize_request_schema() -> dict[str, Any]:
    """JSON schema of the body, for OpenAPI (every key optional; defaults as the CLI's)."""
    model = create_model("OptimizeRequest", __config__=ConfigDict(extra="forbid"), **_documented_fields())
    schema = model.model_json_schema()
    schema["description"] = ("Settings of the run: the seed's shape (dataset_name, mode, optimize_for, trials, "
                             "health_weight, config_overrides) or the CLI's flat keys; aliases max_epochs and "
                             "gpu_proxy_fallback are accepted. results_dir belongs to the server.")
    schema["examples"] = [EXAMPLE, FLAT_EXAMPLE]
    return schema
