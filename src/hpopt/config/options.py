"""OptimizationConfig: every option of a run, its default, its --help group and its checks.

One frozen pydantic model is the single source of truth for the CLI, the API (which serves
its schema) and the runner; hpopt.config.loading fills it from the command line, .env and
the environment. Nothing heavy is imported here: the CLI answers --help from this model.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from hpopt.config.choices import (
    HEALTH_ONLY_OBJECTIVES,
    OBJECTIVES_BY_MODE,
    PARETO_OBJECTIVES,
    STORAGE_URL_PREFIXES,
    Objective,
    aliases_of,
    value_alias,
)
from hpopt.config.names import dataset_stem, folder_name_problem
from hpopt.spec import Activation, Mode, Precision

__all__ = ["EXPORT_FORMATS", "OptimizationConfig", "TRIALS_LIMIT", "export_formats", "field_type"]

TRIALS_LIMIT = 1_000_000
TRACKING_BACKENDS = ("none", "tensorboard", "mlflow")


def _f(default: Any, group: str, description: str, **constraints: Any) -> Any:
    """A Field carrying its --help group; the description also feeds the API's OpenAPI docs."""
    return Field(default, description=description, json_schema_extra={"group": group}, **constraints)


class OptimizationConfig(BaseModel):
    """Everything one optimization run needs; immutable so every layer sees the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # search
    mode: Mode = _f(
        "simple", "search", "simple: score accuracy alone; health: blend the objective with model "
        "health; pareto: optimize val_accuracy and overall_health together")
    optimize_for: Objective = _f(
        "val_accuracy", "search", "objective to optimize; train_accuracy (alias accuracy) is accuracy on "
        "the training data; macro_f1 and balanced_accuracy score the validation predictions with every "
        "class counted alike (for imbalanced data); overall_health, neuron_utilization and "
        "training_stability need mode=health; pareto mode fixes its own objectives")
    trials: int = _f(50, "search", "number of Optuna trials to run", ge=1, le=TRIALS_LIMIT)
    activation: Optional[Activation] = _f(
        None, "search", "fix the activation of every layer (text: the dense layer after the LSTM); none lets "
        "the search choose (text: relu)")
    search_space: Optional[dict[str, Any]] = _f(
        None, "search", "YAML file overriding the built-in search space: per parameter a list of choices, "
        "{low, high, log, step} or one fixed value (the API: the same as a JSON object); none = built-in space")
    sampler: Literal["tpe", "random", "cmaes"] = _f("tpe", "search", "Optuna sampler")
    pruner: Literal["median", "hyperband", "none"] = _f(
        "median", "search", "Optuna pruner that stops unpromising trials early")
    n_startup_trials: int = _f(5, "search", "trials before the sampler and pruner act (random warm-up)", ge=0)
    n_warmup_steps: int = _f(2, "search", "epochs of a trial before it may be pruned", ge=0)
    random_seed: int = _f(42, "search", "seed of the sampler, data splits and weight initialization", ge=0)
    warm_start: bool = _f(
        True, "search", "start a new study with a known-good architecture for the data's modality "
        "(trial 0), so the search begins from a strong baseline")
    target_value: Optional[float] = _f(
        None, "search", "end the study once a finished trial's value reaches this (maximize: >=, minimize: "
        "<=); not with mode=pareto; none = run all trials", allow_inf_nan=False)
    timeout_hours: Optional[float] = _f(
        None, "search", "deadline for the whole run, counted from launch: the running trial stops at a "
        "batch end and keeps its best epoch, results are written before it; none = no limit", gt=0)
    # training
    max_epochs_per_trial: int = _f(
        20, "training", "most epochs one trial trains (alias max_epochs)", ge=1,
        validation_alias=AliasChoices(*aliases_of("max_epochs_per_trial")))
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
    class_weight: Literal["auto", "none", "balanced"] = _f(
        "auto", "training", "weight the loss per class: balanced = n_samples / (n_classes * class count) "
        "from the training split; auto = balanced when the largest class has more than 3x the samples of "
        "the smallest, else none")
    precision: Precision = _f(
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
    export: str = _f(
        "none", "results", "also write the best model to export/: savedmodel (TF SavedModel), tflite "
        "(model.tflite), onnx (model.onnx), or several comma-separated (savedmodel,tflite); each is reloaded "
        "and checked against the Keras model (summary.json export); none = only best_model.keras")
    plot_generation: Literal["all", "best", "none"] = _f(
        "all", "results", "plots to draw: all trials, the best trial only, or none")
    notify_url: Optional[str] = _f(
        None, "results", "webhook: POST a small JSON (run_name, status finished|failed|interrupted, best_value, "
        "results path or job URL) here when the run ends; 3 tries, at most ~10 s; shown as scheme://host only; "
        "none = no webhook")
    tracking: str = _f(
        "none", "results", "where trials are also logged: none, tensorboard (<run folder>/tensorboard), mlflow, "
        "or a comma list (tensorboard,mlflow)")
    mlflow_tracking_uri: Optional[str] = _f(
        None, "results", "tracking=mlflow: the MLflow tracking URI (an operator setting for the API); none = "
        "sqlite:///<results_dir>/mlflow.db")
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
    gpu_proxy_fallback_local: bool = _f(
        True, "GPU proxy", "train locally when the GPU proxy fails (alias gpu_proxy_fallback)",
        validation_alias=AliasChoices(*aliases_of("gpu_proxy_fallback_local")))
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
    gpu_proxy_usd_per_hour: Optional[float] = _f(
        None, "GPU proxy", "price of gpu_proxy_endpoint in USD per hour, for each trial's cost_usd; none = from the "
        "GPU its worker reports (RunPod serverless flex prices, hpopt.gpu_proxy.pricing)", ge=0, le=1000)
    gpu_proxy_endpoints: Optional[str] = _f(
        None, "GPU proxy", "YAML file listing several endpoints, each {name, endpoint, usd_per_hour?, memory_gb?} "
        "(operator setting); used instead of gpu_proxy_endpoint; none = the single endpoint")
    gpu_budget_usd: Optional[float] = _f(
        None, "GPU proxy", "most USD the run may spend on the GPU proxy: a trial whose estimated cost would pass it "
        "trains locally (gpu_proxy_fallback_local=true) or the run ends; none = no limit", ge=0)
    gpu_tier: Literal["fixed", "auto", "hybrid"] = _f(
        "fixed", "GPU proxy", "fixed: every trial to the first endpoint; auto: per trial, the cheapest endpoint whose "
        "memory_gb fits the model's estimated memory; hybrid: auto, and small models train locally")
    # health
    health_weight: float = _f(
        0.3, "health", "health mode: weight of health in the score (1 - weight goes to the objective)", ge=0, le=1)
    health_monitoring_frequency: int = _f(1, "health", "record health metrics every N epochs", ge=1)
    health_analysis_sample_size: int = _f(
        256, "health", "samples in the probe batch used for health metrics", ge=8, le=4096)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        """A built-in name (any case, canonical spelling kept) or a usable path, checked before any run starts."""
        from hpopt.datasets import DatasetError, resolve_dataset_name  # lazy: --help never pays for it

        try:
            return resolve_dataset_name(value)
        except DatasetError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("export", mode="before")
    @classmethod
    def _export_formats(cls, value: Any) -> Any:
        """One spelling per choice ("tflite, SavedModel" -> "savedmodel,tflite"), refused when unknown."""
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str):
            return value
        return ",".join(export_formats(value)) or "none"

    @field_validator("tracking")
    @classmethod
    def _tracking_backends(cls, value: str) -> str:
        """A comma list of backends, normalized ("mlflow, TensorBoard" -> "tensorboard,mlflow")."""
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in TRACKING_BACKENDS]
        if unknown or not names:
            import difflib

            close = difflib.get_close_matches(unknown[0], TRACKING_BACKENDS, n=1) if unknown else []
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"expected none, tensorboard, mlflow or a comma list of them{hint}")
        chosen = [n for n in TRACKING_BACKENDS if n in names and n != "none"]
        if "none" in names and chosen:
            raise ValueError("none cannot be combined with a backend")
        return ",".join(chosen) or "none"

    @property
    def tracking_backends(self) -> tuple[str, ...]:
        """The tracking backends to log to (empty for none)."""
        return tuple(n for n in self.tracking.split(",") if n != "none")

    @field_validator("search_space", mode="before")
    @classmethod
    def _read_space_file(cls, value: Any) -> Any:
        """A path (CLI, environment) is read here, so a bad file stops the run before TensorFlow loads;
        the config keeps the file's content, which is what the run searches and what resumes compare."""
        from hpopt.space_overrides import SearchSpaceError, check_overrides, load_space_file

        if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
            try:
                value = {"__file__": str(value), **load_space_file(str(value))}
            except SearchSpaceError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, dict) and not value:
            raise ValueError("search_space: expected a mapping of parameter: choices, range or value")
        if isinstance(value, dict) and "__file__" not in value:
            try:  # a mapping given directly (API): its parameters and values checked against both spaces
                check_overrides(value, None, "search_space")
            except SearchSpaceError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("optimize_for", mode="before")
    @classmethod
    def _old_objective_names(cls, value: Any) -> Any:
        """config.json files and API bodies written with old spellings still load (with a warning)."""
        return value_alias("optimize_for", value)

    @field_validator("run_name")
    @classmethod
    def _portable_run_name(cls, value: Optional[str]) -> Optional[str]:
        """run_name becomes a folder name: refuse names some OS or hpopt's own files would clash with."""
        problem = None if value is None else folder_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: Optional[str]) -> Optional[str]:
        """Catch a mistyped URL here rather than as an Optuna error after the run has started."""
        if value is not None and not value.startswith(STORAGE_URL_PREFIXES):
            raise ValueError("expected an Optuna storage URL starting with " + ", ".join(STORAGE_URL_PREFIXES))
        return value

    @field_validator("gpu_proxy_endpoints")
    @classmethod
    def _endpoints_file(cls, value: Optional[str]) -> Optional[str]:
        """Read the file now: a mistake in it is one line before any run starts."""
        from hpopt.config.endpoints_file import checked_endpoints_file
        return checked_endpoints_file(value)

    @field_validator("notify_url")
    @classmethod
    def _webhook_url(cls, value: Optional[str]) -> Optional[str]:
        """A webhook is an http(s) URL with a host; anything else would only fail when the run ends."""
        if value is None:
            return value
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host, e.g. https://hooks.example.com/T0/B0")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> "OptimizationConfig":
        """Rules between keys, which no single field can check."""
        if self.min_epochs_per_trial > self.max_epochs_per_trial:
            raise ValueError(
                f"min_epochs_per_trial={self.min_epochs_per_trial} is greater than "
                f"max_epochs_per_trial={self.max_epochs_per_trial}: "
                "allowed min_epochs_per_trial ≤ max_epochs_per_trial")
        if self.mode == "pareto" and self.optimize_for != "val_accuracy":
            raise ValueError(
                f"optimize_for={self.optimize_for!r} cannot be used with mode='pareto': pareto mode "
                f"optimizes {' and '.join(PARETO_OBJECTIVES)} together; leave optimize_for unset")
        if self.search_space is not None:
            self._check_space()
        if self.target_value is not None and self.mode == "pareto":
            raise ValueError(
                f"target_value={self.target_value:g} cannot be used with mode='pareto': a multi-objective "
                "study has no single value to reach; use mode=simple or mode=health, or leave target_value unset")
        if self.optimize_for not in OBJECTIVES_BY_MODE[self.mode]:
            raise ValueError(
                f"optimize_for={self.optimize_for!r} is not available in mode={self.mode!r}: allowed "
                f"{', '.join(OBJECTIVES_BY_MODE[self.mode])}; {', '.join(HEALTH_ONLY_OBJECTIVES)} need mode=health")
        from hpopt.config.endpoints_file import check_endpoint_keys
        check_endpoint_keys(self.gpu_proxy_endpoints, self.gpu_proxy_endpoint, self.gpu_proxy_usd_per_hour)
        return self

    def _check_space(self) -> None:
        """The overrides against the dataset's own space (CNN or LSTM) when its modality is known now."""
        from hpopt.space_overrides import SearchSpaceError, check_overrides, guess_modality

        overrides = dict(self.search_space or {})
        where = overrides.pop("__file__", "search_space")
        if self.activation is not None and "activation" in overrides:
            raise ValueError(f"activation={self.activation!r} and {where}'s activation both fix the activation: "
                             "keep one")
        try:
            normalized = check_overrides(overrides, guess_modality(self.dataset), where)
        except SearchSpaceError as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "search_space", normalized)  # frozen model: set once, while validating

    @cached_property
    def run_name_time(self) -> datetime:
        """UTC time the default run name uses, fixed at first use so repeated calls agree.

        Kept out of the fields (and of ==, hash and to_dict): it names a run, it does not configure it.
        """
        return datetime.now(timezone.utc)

    def default_run_name(self, now: Optional[datetime] = None) -> str:
        """``YYYYMMDD_HHMMSS_<dataset>_<mode>`` in UTC; stable for this config object."""
        stamp = (now or self.run_name_time).astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
        return f"{stamp}_{dataset_stem(self.dataset)}_{self.mode}"

    def split_options(self) -> dict[str, Any]:
        """What decides the data and its splits besides the dataset: one list, used to load the
        data here and to tell the GPU worker how to load the very same arrays (BuiltinData)."""
        return {"validation_split": self.validation_split, "test_size": self.test_size, "seed": self.random_seed,
                "sequence_length": self.sequence_length, "vocab_size": self.vocab_size,
                "image_size": self.image_size}

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


EXPORT_FORMATS: tuple[str, ...] = ("savedmodel", "tflite", "onnx")


def export_formats(value: str) -> tuple[str, ...]:
    """``none`` | ``savedmodel`` | ``tflite`` | ``savedmodel,tflite`` -> the formats, in a fixed order."""
    wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
    if wanted <= {"none"}:
        return ()
    unknown = sorted(wanted - set(EXPORT_FORMATS))
    if unknown or "none" in wanted:
        raise ValueError(f"unknown export format {', '.join(unknown or ['none (with others)'])}: allowed none, "
                         "savedmodel, tflite, onnx or several comma-separated (savedmodel,tflite)")
    return tuple(f for f in EXPORT_FORMATS if f in wanted)


def field_type(key: str) -> tuple[bool, Any]:
    """(optional, base type) of field ``key``: Optional[int] -> (True, int), so parsing and
    error wording can treat "none" and the value's type apart."""
    annotation = OptimizationConfig.model_fields[key].annotation
    args = get_args(annotation)
    if get_origin(annotation) is Union and type(None) in args:
        return True, next(a for a in args if a is not type(None))
    return False, annotation
