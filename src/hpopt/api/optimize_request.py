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
from typing import Annotated, Any, Optional, Sequence

from pydantic import ConfigDict, Field, create_model

from hpopt.api.data_roots import DatasetOutsideRoots, confine_dataset
from hpopt.config import ALIASES, ConfigError, OptimizationConfig, load_config, reserved_name_problem
from hpopt.masking import MASK

__all__ = ["RequestError", "config_from_body", "check_job_limits", "JOBS_DIR_NAME", "optimize_request_schema",
           "SERVER_OWNED_KEYS"]

SEED_ALIASES = {"dataset_name": "dataset"}
# Operator settings: where the server's secrets go (the RunPod key, storage credentials) and which
# server files are read or written. Only the server's environment (HYPEROPT_<KEY>) or .env sets them;
# a request naming one is refused, so an API key never grants choosing them.
SERVER_OWNED_KEYS = ("results_dir", "storage", "gpu_proxy_endpoint", "gpu_proxy_repo_url", "gpu_proxy_ref",
                     "mlflow_tracking_uri")
# (data_dir is confined to the operator's data_roots by hpopt.api.data_roots instead.)
EXAMPLE = {"dataset_name": "digits", "mode": "simple", "optimize_for": "val_accuracy", "trials": 5,
           "config_overrides": {"max_epochs_per_trial": 3, "min_epochs_per_trial": 1}}
FLAT_EXAMPLE = {"dataset": "digits", "trials": 3, "max_epochs": 2, "min_epochs_per_trial": 1,
                "plot_generation": "best"}


JOBS_DIR_NAME = ".hpopt_jobs"  # <results_dir>/.hpopt_jobs: the server's per-job records (ApiSettings.jobs_dir)


MAX_PROBLEMS = 20  # a form with more mistakes than this gets the first 20


class RequestError(ValueError):
    """A body the config model rejects; ``key`` is the field to blame (None: the body).

    ``problems`` lists every (message, key) found, the first being this error's own, so a
    form can show all its mistakes after one submit."""

    def __init__(self, message: str, key: Optional[str] = None, value: Any = None,
                 problems: Optional[list[tuple[str, Optional[str]]]] = None) -> None:
        super().__init__(message)
        self.key, self.value = key, value
        self.problems = problems or [(message, key)]


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
    given = {ALIASES.get(k, k): k for k in (str(n).strip().lower().replace("-", "_") for n in values)}
    for key in SERVER_OWNED_KEYS:  # spelled as load_config reads keys (any case, '-' for '_')
        if key in given:
            setting = f"the server's results folder ({results_dir})" if key == "results_dir" else (
                f"set by the environment variable HYPEROPT_{key.upper()} or .env where the server runs")
            raise RequestError(f"{key} is an operator setting, not a request setting: it is the server's own "
                               f"({setting}); remove it from the request", key, MASK)
    space = values.get("search_space")
    if space is not None and not isinstance(space, dict):
        raise RequestError("search_space must be a JSON object of parameter: choices, {low, high, log, step} or "
                           "value (e.g. {\"optimizer\": \"adam\"}); a request cannot name a file on the server",
                           "search_space", space)
    run_name = values.get("run_name")
    if isinstance(run_name, str) and run_name.startswith("."):
        raise RequestError(f"run_name={run_name!r} is not valid: names starting with '.' are reserved for the "
                           "server's own records", "run_name", run_name)


def _refuse_pickled_npz(values: dict[str, Any]) -> None:
    """An .npz dataset holding pickled objects is refused now (422), not when its job runs."""
    from hpopt.datasets.safe_npz import PickledDataError, check_npz

    for key, dataset in values.items():
        if str(key).strip().lower() not in ("dataset", "dataset_name") or not isinstance(dataset, str):
            continue
        if dataset.lower().endswith(".npz") and Path(dataset).is_file():
            try:
                check_npz(Path(dataset))
            except PickledDataError as exc:
                raise RequestError(str(exc), "dataset") from None


def config_from_body(body: Any, results_dir: Path, env_file: Optional[str] = ".env",
                     data_roots: Optional[Sequence[Path]] = None) -> OptimizationConfig:
    """Validate a request body exactly as the CLI validates its arguments."""
    if not isinstance(body, dict):
        raise RequestError("expected a JSON object of settings, e.g. " + str(EXAMPLE))
    values = _flatten(body)
    _check_server_owned(values, results_dir)
    values, problems = _set_aside_bad_data(values, data_roots if data_roots is not None else (results_dir / "data",))
    values["results_dir"] = str(results_dir)
    try:
        config = _load_reporting_all(values, env_file)
    except RequestError as exc:
        problems += exc.problems
    if problems:
        message, key = problems[0]
        raise RequestError(message, key, problems=problems[:MAX_PROBLEMS])
    _refuse_reserved_names(config, results_dir, data_roots)
    return config


def _set_aside_bad_data(values: dict[str, Any], roots: Sequence[Path]) -> tuple[dict[str, Any],
                                                                                  list[tuple[str, Optional[str]]]]:
    """A dataset or data_dir path outside the data roots (default: <results_dir>/data), or an .npz
    holding pickles, is a problem of the body: reported with its other mistakes, and left out
    (never read) while the rest is checked."""
    problems: list[tuple[str, Optional[str]]] = []
    for _ in range(2):  # dataset, then data_dir
        try:
            confine_dataset(values, roots)
            _refuse_pickled_npz(values)
            break
        except (DatasetOutsideRoots, RequestError) as exc:
            problems.append((str(exc), exc.key))
            kept = _without_key(values, exc.key)
            if kept is None:
                break
            values = kept
    return values, problems


def _without_key(values: dict[str, Any], key: str) -> Optional[dict[str, Any]]:
    """``values`` less ``key`` (however it was spelled), or None when no entry names it."""
    def canonical(name: str) -> str:
        name = str(name).strip().lower().replace("-", "_")
        return ALIASES.get(name, name)

    kept = {k: v for k, v in values.items() if canonical(k) != key}
    return kept if len(kept) < len(values) else None


def _load_reporting_all(values: dict[str, Any], env_file: Optional[str]) -> OptimizationConfig:
    """load_config, but a rejected body names every bad key, not only the first: the blamed key
    is left out (its default stands in) and the rest checked again, as often as it takes."""
    problems: list[tuple[str, Optional[str], Any]] = []
    remaining: Optional[dict[str, Any]] = values
    while remaining is not None and len(problems) < MAX_PROBLEMS:
        try:
            config = load_config(remaining, environ=os.environ, env_file=env_file)
        except ConfigError as exc:
            message = str(exc)
            key = _blamed_key(message)
            kept = _without_key(remaining, key) if key else None
            if problems and kept is None:
                break  # a default clashing with what is left: not a mistake of the body
            problems.append((message, key, values.get(key) if key else None))
            remaining = kept
            continue
        if not problems:
            return config
        break
    message, key, value = problems[0]
    raise RequestError(message, key, value, problems=[(m, k) for m, k, _ in problems])


def _refuse_reserved_names(config: OptimizationConfig, results_dir: Path, data_roots: Optional[Sequence[Path]]) -> None:
    """run_name and study_name may not name the server's own files and folders in results_dir."""
    own = {"data", JOBS_DIR_NAME}  # the default data root and the job records
    own |= {Path(r).name for r in (data_roots or ()) if Path(r).parent == Path(results_dir)}
    for key in ("run_name", "study_name"):
        name = getattr(config, key)
        problem = reserved_name_problem(name, tuple(sorted(own))) if name else None
        if problem:
            raise RequestError(f"{key}={name!r} is not valid: {problem}", key, name)


def check_job_limits(config: OptimizationConfig, settings: Any) -> None:
    """RequestError naming the operator's limit (ApiSettings.max_job_*) that ``config`` exceeds."""
    for key, value, limit in (("trials", config.trials, "max_job_trials"),
                              ("max_epochs_per_trial", config.max_epochs_per_trial, "max_job_epochs"),
                              ("workers", config.workers, "max_job_workers")):
        allowed = getattr(settings, limit)
        if value > allowed:
            raise RequestError(f"{key}={value} exceeds this server's limit {limit}={allowed} (set by the operator "
                               f"as HYPEROPT_{limit.upper()}); ask for at most {allowed}", key, value)


def check_notify_url(config: OptimizationConfig, settings: Any) -> None:
    """RequestError unless notify_url's host is one the operator allows (notify_allowed_hosts).

    A webhook makes this server send a POST where the request says: without the operator's
    list, any API user could aim it at the server's own network (SSRF).
    """
    if not config.notify_url:
        return
    from urllib.parse import urlsplit

    from hpopt.masking import url_origin

    host = (urlsplit(config.notify_url).hostname or "").lower().rstrip(".")
    allowed = tuple(getattr(settings, "notify_allowed_hosts", ()) or ())
    if host not in allowed:
        listed = ", ".join(allowed) if allowed else "none (the default)"
        shown = url_origin(config.notify_url)
        raise RequestError(f"notify_url={shown!r} is not allowed: its host {host!r} is not in this server's "
                           f"notify_allowed_hosts (set by the operator as HYPEROPT_NOTIFY_ALLOWED_HOSTS; "
                           f"now: {listed})", "notify_url", shown)


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
                             "gpu_proxy_fallback are accepted. " + ", ".join(SERVER_OWNED_KEYS)
                             + " are operator settings "
                             "(the server's environment or .env) and are refused here.")
    schema["examples"] = [EXAMPLE, FLAT_EXAMPLE]
    return schema
