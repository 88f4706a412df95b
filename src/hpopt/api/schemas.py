"""Response and request models of the REST API (what /openapi.json documents).

Trial rows keep extra fields (``extra="allow"``): they are summary.json's entries, whose
contract lives in DESIGN.md, and the API should not silently drop what the runner adds.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["pending", "running", "completed", "failed", "cancelled", "interrupted"]
Number = Optional[float]


class ErrorOut(BaseModel):
    detail: str = Field(description="what went wrong and what to do about it")


CredentialSource = Optional[Literal["environment", ".env", "gpu-proxy/.env"]]
GpuProxyStatus = Literal["disabled", "not_configured", "unknown", "reachable", "unreachable"]


class GpuProxyOut(BaseModel):
    client_installed: bool = Field(description="the GPU proxy client (hpopt.executors.gpu_proxy) is present")
    credentials_configured: bool = Field(description="RUNPOD_API_KEY is set in the environment, ./.env or "
                                         "gpu-proxy/.env (its value is never shown)")
    api_key_source: CredentialSource = Field(None, description="where RUNPOD_API_KEY was found (the environment "
                                             "wins over ./.env, which wins over gpu-proxy/.env); null: nowhere")
    endpoint_id_source: CredentialSource = Field(None, description="where RUNPOD_ENDPOINT_ID was found, in the "
                                                 "same order; null: nowhere")
    endpoint: Optional[str] = Field(None, description="HYPEROPT_GPU_PROXY_ENDPOINT (environment or .env), when set")
    enabled_by_default: bool = Field(description="HYPEROPT_USE_GPU_PROXY is true: jobs use it unless told otherwise")


class JobCounts(BaseModel):
    running: int
    pending: int
    total: int


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    jobs: JobCounts
    max_concurrent_jobs: int
    auth_required: bool
    gpu_proxy: GpuProxyOut
    gpu_proxy_status: GpuProxyStatus = Field(
        description="the last background check of the GPU proxy endpoint: disabled (checks off, or no client), "
        "not_configured (no endpoint), unknown (first check not finished), reachable (it answered HTTP below "
        "500), unreachable (no connection, no answer within 5 s, or HTTP 5xx)")
    gpu_proxy_checked_at: Optional[str] = Field(None, description="when the endpoint was last checked (ISO 8601 "
                                                "UTC); null when it was not")
    gpu_proxy_detail: Optional[str] = Field(None, description="what to know about gpu_proxy_status (why it is "
                                            "unreachable, a refused key, RunPod's worker counts)")


class DatasetOut(BaseModel):
    name: str
    modality: Literal["image", "text"]
    input_shape: list[int] = Field(description="the default shape (gtsrb follows image_size, text sequence_length)")
    num_classes: int
    description: str
    bundled: bool = Field(description="ships with the package (always offline)")
    available_offline: bool = Field(description="its files are on the server, so no download is needed")


class ModeOut(BaseModel):
    name: str
    description: str
    objectives: list[str] = Field(description="values of optimize_for this mode accepts")


class ObjectiveOut(BaseModel):
    name: str
    modes: list[str] = Field(description="modes in which optimize_for may name it")
    health_only: bool


class ProgressOut(BaseModel):
    trials_total: int = Field(description="the study's trial cap (finished trials of earlier attempts count)")
    trials_finished: int
    n_complete: int
    n_pruned: int
    n_no_learning: int = Field(default=0, description="trials stopped at chance level after their warm-up")
    n_failed: int
    n_stopped: int = Field(default=0, description="trials cut by a stop (stop_reason user or server): listed, "
                                                  "not counted in trials_finished; a resume runs others in their place")
    current_trial: Optional[int] = None
    current_epoch: Optional[int] = None
    best_value: Number = None
    best_so_far: Optional[dict[str, Any]] = Field(
        None, description="the best epoch of any trial yet (t_s since launch, trial, epoch, value, "
                          "val_accuracy): best_model.keras holds it while the run goes on")


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    run_name: str
    dataset: str
    mode: str
    optimize_for: str
    trials: int
    created_at: str
    updated_at: str
    queued_at: Optional[str] = None
    started_at: Optional[str] = Field(None, description="start of the latest attempt")
    finished_at: Optional[str] = None
    attempts: int = Field(description="processes started for this job (1 + resumes)")
    stop_requested: bool
    error: Optional[str] = None
    queue_position: Optional[int] = Field(None, description="1 = next to start; pending jobs only")
    progress: ProgressOut
    config: dict[str, Any] = Field(description="the job's full, validated configuration")


class JobListOut(BaseModel):
    jobs: list[JobOut]
    total: int = Field(description="jobs matching the filter, before paging")
    limit: int
    offset: int


class TrialOut(BaseModel):
    """One trial as summary.json lists it (history only on request)."""

    model_config = ConfigDict(extra="allow")

    number: int
    state: str
    value: Union[float, list[Optional[float]], None] = None
    val_accuracy: Number = None
    params: dict[str, Any] = Field(default_factory=dict)
    health: Optional[dict[str, Any]] = None
    epochs_run: Optional[int] = None
    duration_s: Number = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    execution: Optional[str] = None
    worker: Optional[str] = None
    failure: Optional[str] = None
    warm_start: Optional[bool] = Field(None, description="the warm-start baseline (trial 0 of a new study)")
    history: Optional[list[dict[str, Any]]] = None


class TrialsOut(BaseModel):
    job_id: str
    status: JobStatus
    count: int
    trials: list[TrialOut]


class LayerOut(BaseModel):
    """One layer of a trial's Keras model, as reported when the model was built."""

    model_config = ConfigDict(extra="allow")

    name: str
    type: str
    output_shape: Any = Field(None, description="e.g. [null, 8, 8, 32]; null is the batch dimension")
    params: int = Field(0, description="trainable and non-trainable parameters")


class CurrentTrial(BaseModel):
    number: int
    params: dict[str, Any]
    started_at: Optional[str] = None
    planned_epochs: Optional[int] = None
    epochs: list[dict[str, Any]] = Field(description="per-epoch metrics so far (loss, accuracy, val_*, health)")
    architecture: list[LayerOut] = Field(default_factory=list, description="the model's layers, once it is built")


class CurrentTrialOut(BaseModel):
    job_id: str
    status: JobStatus
    trial: Optional[CurrentTrial] = Field(None, description="null when no trial is training")


class BestTrialOut(BaseModel):
    job_id: str
    status: JobStatus
    direction: str
    best_trial: Optional[TrialOut] = Field(None, description="null until a trial completes")
    test_accuracy: Number = None
    pareto_front: Optional[list[dict[str, Any]]] = None


class RunCountsOut(BaseModel):
    trials: int
    complete: int
    pruned: int
    no_learning: int = Field(description="stopped at chance level after their warm-up")
    failed: int
    stopped: int = Field(description="cut short by a stop (API stop or Ctrl-C); not counted as failed")


class PerClassOut(BaseModel):
    class_: str = Field(alias="class", description="the class name (its id where the dataset has no names)")
    precision: float
    recall: float
    f1: float
    support: int

    model_config = ConfigDict(populate_by_name=True)


class RunSummaryOut(BaseModel):
    job_id: str
    status: JobStatus
    run_name: str
    directions: list[str]
    best_trial: Optional[TrialOut] = Field(None, description="with its test metrics; null when no trial completed")
    test_accuracy: Number = Field(None, description="the best model on the held-out test split (touched once)")
    test_loss: Number = None
    macro_f1: Number = Field(None, description="the best model's macro-F1 on the test split")
    balanced_accuracy: Number = Field(None, description="the best model's mean recall over classes on the test split")
    per_class: list[PerClassOut] = Field(
        default_factory=list, description="the best model's precision, recall, F1 and support per class on the test "
        "split, worst F1 first")
    stopped_reason: Optional[str] = Field(None, description="why the search ended early (target_value reached)")
    wall_s: Number = Field(None, description="the run's wall time in seconds (summary.json's wall_s)")
    counts: RunCountsOut
    baseline_trial: Optional[int] = Field(None, description="the warm-start baseline trial's number, if any")
    chance_accuracy: Number = Field(None, description="1/classes: a uniform guess's accuracy")
    chance_ceiling: Number = Field(None, description="the highest val_accuracy that still reads as chance level")
    at_chance: list[int] = Field(description="trials at chance level (no_learning, or val_accuracy at or below "
                                 "chance_ceiling): their health scores say little")
    report: Optional[str] = Field(None, description="report.md's path for GET /jobs/{id}/files/{path}, once written")


class TrialDetailOut(BaseModel):
    job_id: str
    status: JobStatus
    running: bool = Field(description="the trial is training now (state 'running', history so far)")
    trial: TrialOut = Field(description="the trial's row with its per-epoch history (with live health when "
                                        "recorded) and its full health report (per_layer included)")
    architecture: list[LayerOut] = Field(description="the model's layers; empty until the model is built")
    plots: list[str] = Field(description="its plots, as paths for GET /jobs/{id}/files/{path}")


class ImportanceOut(BaseModel):
    param: str
    importance: float


class ImportancesOut(BaseModel):
    job_id: str
    status: JobStatus
    method: str = Field(description="how importances were computed (Optuna's evaluator)")
    target: str = Field(description="what the importances explain: the trials' value, or its first objective")
    n_trials: int = Field(description="complete trials they were computed from")
    importances: list[ImportanceOut] = Field(description="largest first; they sum to 1")
    reason: Optional[str] = Field(None, description="why the list is empty, when it is")


class TrendPoint(BaseModel):
    number: int
    state: Optional[str] = None
    value: Number = None
    best_value: Number = Field(None, description="best value of complete trials up to this one")
    val_accuracy: Number = None
    overall_health: Number = None
    health: dict[str, float] = Field(default_factory=dict)
    duration_s: Number = None
    epochs_run: Optional[int] = None


class TrendsOut(BaseModel):
    job_id: str
    status: JobStatus
    direction: str
    trends: list[TrendPoint]


class FileOut(BaseModel):
    path: str = Field(description="relative to the run folder, with / separators")
    size: int
    modified: str


class FilesOut(BaseModel):
    job_id: str
    run_name: str
    files: list[FileOut]


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trials: Optional[int] = Field(None, ge=1, le=100000,
                                  description="new total trial cap; omit to finish the original one")


class DeletedOut(BaseModel):
    job_id: str
    deleted: bool = True


class ParamDistributionOut(BaseModel):
    """The distribution a hyperparameter was sampled from (as Optuna stores it)."""

    name: str
    kind: Literal["float", "int", "categorical"]
    log: bool = Field(description="sampled on a log scale: draw its axis in log")
    low: Number = None
    high: Number = None
    step: Number = Field(None, description="the grid step, when it has one")
    choices: Optional[list[Any]] = Field(None, description="a categorical parameter's choices, in order")


class IntermediateValueOut(BaseModel):
    step: int = Field(description="the epoch (1-based)")
    value: float


class AnalysisTrialOut(BaseModel):
    number: int
    state: str = Field(description="complete, pruned, no_learning, failed, running or waiting")
    value: Number = Field(None, description="the value (the first objective's in pareto mode); null when none")
    values: Optional[list[Optional[float]]] = Field(None, description="every objective's value")
    params: dict[str, Any]
    intermediate: list[IntermediateValueOut] = Field(
        description="per-epoch objective values: Optuna's intermediate values, else the trial's history")


class AnalysisOut(BaseModel):
    job_id: str
    status: JobStatus
    directions: list[Literal["maximize", "minimize"]] = Field(description="the study's, one per objective")
    maximize: bool = Field(description="a larger (first) value is better")
    params: list[ParamDistributionOut] = Field(description="every hyperparameter any trial sampled, by name")
    trials: list[AnalysisTrialOut]
    reason: Optional[str] = Field(None, description="why there are no trials, when there are none")
