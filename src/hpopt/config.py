"""OptimizationConfig: every option of a run, its default, and where a value may come from.

One frozen pydantic model is the single source of truth for the CLI, the API (which
serves its schema) and the runner. ``load_config`` layers defaults < .env < HYPEROPT_*
environment variables < command line and turns every mistake into one ConfigError whose
message names the key, the value, what is allowed and the closest valid key, because a
user reading it should not need pydantic's vocabulary. Nothing heavy is imported here:
the CLI answers --help and config errors from this module alone.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

__all__ = [
    "ALIASES", "ALL_MODE_OBJECTIVES", "HEALTH_ONLY_OBJECTIVES", "NON_CONFIG_ENV_VARS",
    "OBJECTIVES_BY_MODE", "PARETO_OBJECTIVES", "STORAGE_URL_PREFIXES", "VALUE_ALIASES", "ConfigError",
    "OptimizationConfig", "SERVER_FILE_NAMES", "describe_allowed", "describe_range", "explain_validation_error",
    "load_config", "reserved_name_problem",
]

logger = logging.getLogger(__name__)

ALL_MODE_OBJECTIVES: tuple[str, ...] = (
    "val_accuracy", "train_accuracy", "training_time", "parameter_efficiency",
    "memory_efficiency", "inference_speed",
)
HEALTH_ONLY_OBJECTIVES: tuple[str, ...] = ("overall_health", "neuron_utilization", "training_stability")
PARETO_OBJECTIVES: tuple[str, ...] = ("val_accuracy", "overall_health")
OBJECTIVES_BY_MODE: dict[str, tuple[str, ...]] = {
    "simple": ALL_MODE_OBJECTIVES,
    "health": ALL_MODE_OBJECTIVES + HEALTH_ONLY_OBJECTIVES,
    "pareto": ("val_accuracy",),
}
STORAGE_URL_PREFIXES: tuple[str, ...] = (
    "sqlite:///", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://", "mysql://", "mysql+pymysql://",
)
ALIASES: dict[str, str] = {"max_epochs": "max_epochs_per_trial", "gpu_proxy_fallback": "gpu_proxy_fallback_local"}
# Old spellings of values: key -> {old value: (current value, warning shown when the old one is used)}.
VALUE_ALIASES: dict[str, dict[str, tuple[str, str]]] = {
    "optimize_for": {"accuracy": (
        "train_accuracy",
        "optimize_for=accuracy means training accuracy (now spelled train_accuracy): trials are "
        "selected on how well they fit the training data; use optimize_for=val_accuracy to select on "
        "validation data")},
}
# HYPEROPT_* variables read by other parts of hpopt (API server, clients): not config keys.
NON_CONFIG_ENV_VARS: frozenset[str] = frozenset({
    "HYPEROPT_API_KEY", "HYPEROPT_OFFLINE", "HYPEROPT_HOST", "HYPEROPT_PORT",
    "HYPEROPT_MAX_CONCURRENT_JOBS", "HYPEROPT_API_URL", "HYPEROPT_JOBS_DIR",
    "HYPEROPT_STOP_GRACE_S", "HYPEROPT_MAX_BODY_BYTES", "HYPEROPT_CORS_ORIGINS", "HYPEROPT_JOB_NICE",
    "HYPEROPT_SERVER_LOG_LEVEL", "HYPEROPT_TEST_POSTGRES_URL", "HYPEROPT_WORKER_INDEX",
    "HYPEROPT_DATA_ROOTS", "HYPEROPT_MAX_JOB_TRIALS", "HYPEROPT_MAX_JOB_EPOCHS", "HYPEROPT_MAX_JOB_WORKERS",
    "HYPEROPT_MAX_QUEUED_JOBS", "HYPEROPT_ALLOW_SHARED_STUDIES",
})
_WINDOWS_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}
# Files hpopt itself keeps in results_dir (the default Optuna storage, the API's job database, with
# SQLite's companions): a run folder or study of that name would collide with them.
SERVER_FILE_NAMES: tuple[str, ...] = tuple(
    f"{base}{suffix}" for base in ("hpopt_studies.db", "hpopt_jobs.db") for suffix in ("", "-wal", "-shm", "-journal"))
TRIALS_LIMIT = 1_000_000


def reserved_name_problem(name: str, extra: tuple[str, ...] = ()) -> Optional[str]:
    """Why ``name`` may not name a run folder or study (None: it may): a Windows device name, or
    one of hpopt's own files in results_dir (SERVER_FILE_NAMES, plus ``extra``; any case)."""
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        return "expected a folder name that is not a reserved Windows device name (CON, NUL, COM1...)"
    if name.lower() in {n.lower() for n in (*SERVER_FILE_NAMES, *extra)}:
        return f"{name!r} is reserved: it is one of hpopt's own files or folders in results_dir; choose another name"
    return None

Objective = Literal[
    "val_accuracy", "train_accuracy", "training_time", "parameter_efficiency", "memory_efficiency",
    "inference_speed", "overall_health", "neuron_utilization", "training_stability",
]


def _f(default: Any, group: str, description: str, **constraints: Any) -> Any:
    """A Field carrying its --help group; the description also feeds the API's OpenAPI docs."""
    return Field(default, description=description, json_schema_extra={"group": group}, **constraints)


class OptimizationConfig(BaseModel):
    """Everything one optimization run needs; immutable so every layer sees the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # search
    mode: Literal["simple", "health", "pareto"] = _f(
        "simple", "search", "simple: score accuracy alone; health: blend the objective with model "
        "health; pareto: optimize val_accuracy and overall_health together")
    optimize_for: Objective = _f(
        "val_accuracy", "search", "objective to optimize; train_accuracy (alias accuracy) is accuracy on "
        "the training data; overall_health, neuron_utilization and training_stability need mode=health; "
        "pareto mode fixes its own objectives")
    trials: int = _f(50, "search", "number of Optuna trials to run", ge=1, le=TRIALS_LIMIT)
    activation: Optional[Literal["relu", "leaky_relu", "swish"]] = _f(
        None, "search", "fix the activation of every layer (text: the dense layer after the LSTM); none lets "
        "the search choose (text: relu)")
    sampler: Literal["tpe", "random", "cmaes"] = _f("tpe", "search", "Optuna sampler")
    pruner: Literal["median", "hyperband", "none"] = _f(
        "median", "search", "Optuna pruner that stops unpromising trials early")
    n_startup_trials: int = _f(5, "search", "trials before the sampler and pruner act (random warm-up)", ge=0)
    n_warmup_steps: int = _f(2, "search", "epochs of a trial before it may be pruned", ge=0)
    random_seed: int = _f(42, "search", "seed of the sampler, data splits and weight initialization", ge=0)
    warm_start: bool = _f(
        True, "search", "start a new study with a known-good architecture for the data's modality "
        "(trial 0), so the search begins from a strong baseline")
    timeout_hours: Optional[float] = _f(
        None, "search", "deadline for the whole run, counted from launch: the running trial stops at a "
        "batch end and keeps its best epoch, results are written before it; none = no limit", gt=0)
    # training
    max_epochs_per_trial: int = Field(
        20, ge=1, validation_alias=AliasChoices("max_epochs_per_trial", "max_epochs"),
        description="most epochs one trial trains (alias max_epochs)",
        json_schema_extra={"group": "training"})
    min_epochs_per_trial: int = _f(5, "training", "fewest epochs one trial trains", ge=1)
    early_stopping_patience: int = _f(
        5, "training", "epochs without val_accuracy improvement before a trial stops", ge=1)
    enable_early_stopping: bool = _f(True, "training", "stop a trial when val_accuracy stops improving")
    min_steps_per_epoch: int = _f(
        50, "training", "an epoch is at least this many optimizer steps (small datasets are passed over "
        "several times per epoch, so every trial gets enough updates); 0 = one pass", ge=0, le=100_000)
    stop_no_learning: bool = _f(
        True, "training", "stop a trial still at chance level after its n_warmup_steps epochs (at least 1) "
        "and record it as no_learning")
    precision: Literal["auto", "float32", "mixed_float16"] = _f(
        "auto", "training", "auto: mixed float16 on a GPU (faster, half the activation memory), float32 on a CPU; "
        "decided where the trial runs (the GPU proxy's worker too)")
    # data
    dataset: str = _f(
        "digits", "data", "built-in dataset (digits, mnist, fashion_mnist, cifar10, cifar100, gtsrb, "
        "imdb, reuters) or the path of a folder of class subfolders of images, a Keras-layout .npz, "
        "or a .csv/.tsv of text and label", min_length=1)
    data_dir: Optional[str] = _f(
        None, "data", "folder holding dataset files as their publishers ship them (default: the "
        "Keras cache ~/.keras/datasets)")
    validation_split: float = _f(0.2, "data", "fraction of the training data held out for validation", gt=0, lt=1)
    test_size: float = _f(
        0.2, "data", "fraction held out as test set when the dataset has no test split", ge=0, lt=1)
    sequence_length: int = _f(200, "data", "text datasets: tokens per sample", ge=8, le=2000)
    vocab_size: int = _f(10000, "data", "text datasets: vocabulary size", ge=100, le=100000)
    image_size: Optional[int] = _f(
        None, "data", "custom image folders and gtsrb: resize images to this square size; none = "
        "the dataset's own size", ge=8, le=512)
    # results
    run_name: Optional[str] = _f(
        None, "results", "name of the run folder; none = <UTC timestamp>_<dataset>_<mode>")
    results_dir: str = _f("./optimization_results", "results", "folder that receives the run folders", min_length=1)
    save_best_model: bool = _f(True, "results", "save the best trial's model as best_model.keras")
    plot_generation: Literal["all", "best", "none"] = _f(
        "all", "results", "plots to draw: all trials, the best trial only, or none")
    log_level: Literal["DEBUG", "INFO", "WARNING"] = _f(
        "DEBUG", "results", "level of logs/optimization.log (DEBUG = full detail); the terminal "
        "always shows progress lines, warnings and errors")
    # storage & workers
    storage: Optional[str] = _f(
        None, "storage & workers", "Optuna storage URL (sqlite:///, postgresql://, mysql://...); "
        "none = a SQLite file in results_dir")
    study_name: Optional[str] = _f(
        None, "storage & workers", "Optuna study name; reuse one to resume it; none = run_name")
    workers: int = _f(1, "storage & workers", "worker processes on this machine sharing the study (each gets its own "
                      "GPU when there are several); trials caps the whole study", ge=1, le=64)
    heartbeat_interval_s: int = _f(
        30, "storage & workers", "seconds between a running trial's heartbeats; a trial silent for 3x this "
        "(its worker died) is marked failed and re-run once", ge=1, le=3600)
    assign_gpus_to_workers: bool = _f(
        True, "storage & workers", "give each worker its own GPU (CUDA_VISIBLE_DEVICES) when GPUs are present")
    # GPU proxy
    use_gpu_proxy: bool = _f(False, "GPU proxy", "train trials on the remote GPU endpoint (RunPod serverless)")
    gpu_proxy_auto_clone: bool = _f(True, "GPU proxy", "let the GPU proxy client fetch its worker code automatically")
    gpu_proxy_endpoint: Optional[str] = _f(
        None, "GPU proxy", "the GPU proxy's RunPod endpoint id or URL; none = the GPU proxy client's default")
    gpu_proxy_fallback_local: bool = Field(
        True, validation_alias=AliasChoices("gpu_proxy_fallback_local", "gpu_proxy_fallback"),
        description="train locally when the GPU proxy fails (alias gpu_proxy_fallback)",
        json_schema_extra={"group": "GPU proxy"})
    gpu_proxy_sample_percentage: float = _f(
        1.0, "GPU proxy", "fraction of the training data sent to the GPU proxy", gt=0, le=1)
    gpu_proxy_use_stratified_sampling: bool = _f(
        True, "GPU proxy", "keep class proportions when sampling data for the GPU proxy")
    gpu_proxy_concurrency: int = _f(
        1, "GPU proxy", "trials in flight on the GPU proxy at once (give the endpoint as many workers)",
        ge=1, le=64)
    gpu_proxy_timeout_s: float = _f(
        7200.0, "GPU proxy", "most seconds one remote trial may take, queueing included, before it is cancelled",
        gt=0)
    gpu_proxy_max_payload_mb: float = _f(
        10.0, "GPU proxy", "largest request sent to the endpoint in MB (RunPod accepts 10 MB on /run)",
        gt=0, le=1000)
    gpu_proxy_repo_url: Optional[str] = _f(
        None, "GPU proxy", "git repository the worker code is cloned from when ./gpu-proxy and "
        "../gpu-proxy are absent and gpu_proxy_auto_clone is true")
    gpu_proxy_ref: Optional[str] = _f(
        None, "GPU proxy", "tag, branch or commit of gpu_proxy_repo_url to clone; a full commit sha is "
        "verified after the checkout; none = the default branch")
    # health
    health_weight: float = _f(
        0.3, "health", "health mode: weight of health in the score (1 - weight goes to the objective)", ge=0, le=1)
    health_monitoring_frequency: int = _f(1, "health", "record health metrics every N epochs", ge=1)
    health_analysis_sample_size: int = _f(
        256, "health", "samples in the probe batch used for health metrics", ge=8, le=4096)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        from hpopt.datasets import DatasetError, resolve_dataset_name  # lazy: --help never pays for it

        try:
            return resolve_dataset_name(value)
        except DatasetError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("optimize_for", mode="before")
    @classmethod
    def _old_objective_names(cls, value: Any) -> Any:
        return _value_alias("optimize_for", value)

    @field_validator("run_name")
    @classmethod
    def _portable_run_name(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        if _WINDOWS_ILLEGAL.search(value):
            raise ValueError('expected a folder name without < > : " / \\ | ? * or control characters')
        if value in (".", ".."):
            raise ValueError("expected a folder name other than '.' or '..'")
        if value.endswith((".", " ")) or value.startswith(" "):
            raise ValueError("expected a folder name that does not start or end with a space or end with '.'")
        problem = reserved_name_problem(value)
        if problem:
            raise ValueError(problem)
        if len(value) > 100:
            raise ValueError(f"expected at most 100 characters, got {len(value)}")
        return value

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(STORAGE_URL_PREFIXES):
            raise ValueError("expected an Optuna storage URL starting with " + ", ".join(STORAGE_URL_PREFIXES))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "OptimizationConfig":
        if self.min_epochs_per_trial > self.max_epochs_per_trial:
            raise ValueError(
                f"min_epochs_per_trial={self.min_epochs_per_trial} is greater than "
                f"max_epochs_per_trial={self.max_epochs_per_trial}: "
                "allowed min_epochs_per_trial ≤ max_epochs_per_trial")
        if self.mode == "pareto" and self.optimize_for != "val_accuracy":
            raise ValueError(
                f"optimize_for={self.optimize_for!r} cannot be used with mode='pareto': pareto mode "
                f"optimizes {' and '.join(PARETO_OBJECTIVES)} together; leave optimize_for unset")
        if self.optimize_for not in OBJECTIVES_BY_MODE[self.mode]:
            raise ValueError(
                f"optimize_for={self.optimize_for!r} is not available in mode={self.mode!r}: allowed "
                f"{', '.join(OBJECTIVES_BY_MODE[self.mode])}; {', '.join(HEALTH_ONLY_OBJECTIVES)} need mode=health")
        return self

    @cached_property
    def run_name_time(self) -> datetime:
        """UTC time the default run name uses, fixed at first use so repeated calls agree.

        Kept out of the fields (and of ==, hash and to_dict): it names a run, it does not configure it.
        """
        return datetime.now(timezone.utc)

    def default_run_name(self, now: Optional[datetime] = None) -> str:
        """``YYYYMMDD_HHMMSS_<dataset>_<mode>`` in UTC; stable for this config object."""
        stamp = (now or self.run_name_time).astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
        return f"{stamp}_{_dataset_stem(self.dataset)}_{self.mode}"

    def resolved_run_name(self, now: Optional[datetime] = None) -> str:
        """The run folder's name: run_name when set, else default_run_name()."""
        return self.run_name or self.default_run_name(now)

    def to_dict(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """Plain JSON types, for summary.json, logs and the API: credentials masked
        (``postgresql://user:***@host/db``, see hpopt.masking) unless ``reveal_secrets``."""
        data = self.model_dump(mode="json")
        if reveal_secrets:
            return data
        from hpopt.masking import masked_config  # stdlib-only module: --help stays light

        return masked_config(data)


def _value_alias(key: str, value: Any) -> Any:
    """The current spelling of an old value (VALUE_ALIASES), with its warning; else ``value``."""
    if isinstance(value, str):
        alias = VALUE_ALIASES.get(key, {}).get(value.strip().lower())
        if alias is not None:
            logger.warning(alias[1])
            return alias[0]
    return value


def _dataset_stem(dataset: str) -> str:
    """A path-safe stem: '/data/My Images/' -> 'My_Images', 'reviews.csv' -> 'reviews'."""
    last = re.split(r"[\\/]", dataset.rstrip("\\/"))[-1]
    stem = last.rsplit(".", 1)[0] if "." in last.strip(".") else last
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:40]
    return safe or "custom"


class ConfigError(ValueError):
    """A setting is unknown, malformed or inconsistent; str() is the one line to show."""

    exit_code = 2


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_NONE = {"", "none", "null"}
_CLI = "the command line"


def _fields() -> dict[str, FieldInfo]:
    return OptimizationConfig.model_fields


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, [*_fields(), *ALIASES], n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint}; run with --help to list every key"


def _canonical(key: str) -> Optional[str]:
    key = ALIASES.get(key, key)
    return key if key in _fields() else None


def _split(annotation: Any) -> tuple[bool, Any]:
    """(optional, base type) of a field annotation such as Optional[int]."""
    args = get_args(annotation)
    if get_origin(annotation) is Union and type(None) in args:
        return True, next(a for a in args if a is not type(None))
    return False, annotation


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else format(x, "g")


def describe_range(key: str) -> Optional[str]:
    """'0 ≤ health_weight ≤ 1' or 'trials ≥ 1'; None for a key without numeric bounds."""
    lo = hi = ""
    for c in _fields()[key].metadata:
        for attr, low in (("ge", "≤"), ("gt", "<"), ("le", None), ("lt", None)):
            bound = getattr(c, attr, None)
            if bound is not None and low:
                lo = f"{_num(bound)} {low} "
            elif bound is not None:
                hi = f" {'≤' if attr == 'le' else '<'} {_num(bound)}"
    if lo and not hi:  # one-sided: read it from the key's side
        number, op = lo.split()
        return f"{key} {'≥' if op == '≤' else '>'} {number}"
    return f"{lo}{key}{hi}" if lo or hi else None


def describe_allowed(key: str) -> str:
    """What a value of ``key`` must look like, for error messages and --help."""
    optional, base = _split(_fields()[key].annotation)
    rng = describe_range(key)
    if get_origin(base) is Literal:
        text = ", ".join(str(c) for c in get_args(base))
    elif base is bool:
        text = "true or false (also yes/no, on/off, 1/0)"
    elif base in (int, float):
        text = "an integer" if base is int else "a number"
        if rng:
            text += " " + rng[len(key) + 1:] if rng.startswith(key + " ") else " with " + rng
    else:
        text = "a non-empty text"
    return text + (", or none" if optional else "")


def _from(source: Optional[str]) -> str:
    return f" (set by {source})" if source and source != _CLI else ""


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _invalid(key: str, value: Any, source: Optional[str], why: str = "") -> ConfigError:
    _, base = _split(_fields()[key].annotation)
    if get_origin(base) is Literal:
        close = difflib.get_close_matches(str(value).lower(), [str(c) for c in get_args(base)], n=1, cutoff=0.75)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        return ConfigError(f"{key}={_show(value)} is not valid: allowed {describe_allowed(key)}{hint}{_from(source)}")
    why = why or "expected " + describe_allowed(key)
    return ConfigError(f"{key}={_show(value)} is not valid: {why}{_from(source)}")


def _parse_value(key: str, raw: Any, source: str) -> Any:
    """Turn a command-line/env string (or an API JSON value) into the field's type."""
    optional, base = _split(_fields()[key].annotation)
    if raw is None or (isinstance(raw, str) and optional and raw.strip().lower() in _NONE):
        if optional:
            return None
        raise _invalid(key, raw, source)
    text = raw.strip() if isinstance(raw, str) else None
    if text is not None and key in VALUE_ALIASES:
        text = _value_alias(key, text)
    if get_origin(base) is Literal:
        for choice in get_args(base):
            if text is not None and text.lower() == str(choice).lower():
                return choice
    elif base is bool:
        if isinstance(raw, bool):
            return raw
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    elif base is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if text is not None and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
    elif base is float:
        value = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        if text is not None:
            try:
                value = float(text)
            except ValueError:
                value = None
        if value is not None and math.isfinite(value):
            return float(value)
    elif text is not None:
        return text
    raise _invalid(key, raw, source)


def _env_layer(values: Mapping[str, Optional[str]], where: str) -> dict[str, tuple[Any, str]]:
    """Config keys set by HYPEROPT_* names in an environment or a .env file."""
    out: dict[str, tuple[Any, str]] = {}
    names: dict[str, str] = {}
    for name, raw in values.items():
        var = name.upper()
        if not var.startswith("HYPEROPT_") or raw is None:
            continue
        key = _canonical(var[len("HYPEROPT_"):].lower())
        if key is None:
            if var not in NON_CONFIG_ENV_VARS:
                close = difflib.get_close_matches(var[9:].lower(), [*_fields(), *ALIASES], n=1)
                hint = f" — did you mean HYPEROPT_{close[0].upper()}?" if close else ""
                logger.warning("ignoring %s in %s: not a setting%s", var, where, hint)
            continue
        if key in names and out[key][0] != raw:
            raise ConfigError(f"{names[key]} and {var} in {where} both set {key}; keep one")
        names[key] = var
        out[key] = (raw, f"{var} in {where}")
    return out


def _args_layer(args: Mapping[str, Any] | list[str]) -> dict[str, tuple[Any, str]]:
    """Config keys from the command line (key=value strings) or an API mapping."""
    if isinstance(args, Mapping):
        pairs = [(str(k), v, f"{k}") for k, v in args.items()]
    else:
        pairs = []
        for arg in args:
            if not isinstance(arg, str) or "=" not in arg:
                raise ConfigError(f"expected key=value, got {arg!r}")
            key, value = arg.split("=", 1)
            pairs.append((key, value, arg))
    out: dict[str, tuple[Any, str]] = {}
    given: dict[str, str] = {}
    for name, value, shown in pairs:
        normal = name.strip().lower().replace("-", "_")
        key = _canonical(normal)
        if key is None:
            raise ConfigError(_unknown_key(normal))
        if key in given:
            raise ConfigError(f"{key} given twice: {given[key]!r} and {shown!r}; keep one")
        given[key] = shown
        out[key] = (value, _CLI)
    return out


def explain_validation_error(
    exc: ValidationError, given: Optional[Mapping[str, tuple[Any, str]]] = None
) -> str:
    """One user-facing sentence for the first problem in a pydantic ValidationError.

    ``given`` maps keys to (value as the user wrote it, where it was set), so the message
    shows 0 as written rather than the parsed 0.0 and says which variable to fix.
    """
    err = exc.errors()[0]
    kind, value = err["type"], err.get("input")
    key = ALIASES.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else None
    cause = str(err.get("ctx", {}).get("error", err["msg"]))
    if key is None:
        return cause
    if kind == "extra_forbidden":
        return _unknown_key(key)
    raw, source = (given or {}).get(key, (value, None))
    shown = raw.strip() if isinstance(raw, str) and not isinstance(value, str) else _show(value)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{key}={shown} is out of range: allowed {describe_range(key)}{_from(source)}"
    if kind == "value_error":
        return cause + _from(source) if key == "dataset" else str(_invalid(key, value, source, cause))
    return str(_invalid(key, value, source))


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
    env_values: Mapping[str, Optional[str]] = {}
    env_label = ".env"
    if env_file is not None and os.path.isfile(env_file):
        from dotenv import dotenv_values  # lazy: only runs that load a config need it

        env_values = dotenv_values(env_file)
        env_label = os.fspath(env_file)
    merged = _env_layer(env_values, env_label)
    merged.update(_env_layer(os.environ if environ is None else environ, "the environment"))
    merged.update(_args_layer(args))
    parsed = {key: _parse_value(key, value, source) for key, (value, source) in merged.items()}
    try:
        return OptimizationConfig.model_validate(parsed)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(exc, merged)) from None
