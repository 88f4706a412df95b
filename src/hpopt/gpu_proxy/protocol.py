"""The GPU proxy's wire format: what a job's ``input`` may hold and what the worker yields.

Both sides import these pydantic models, so the worker refuses (``extra="forbid"``) any
field it does not know, a code string included, before anything runs. The input is data
only: a TrialSpec, a data reference and options. Outputs are JSON records, one per yield
of the worker's generator handler, told apart by ``type``.

Input (``{"input": ...}`` of a RunPod /run request)::

    {"operation": "train", "protocol": 1,
     "spec": <TrialSpec>,
     "data": {"source": "builtin", "name": "digits", "validation_split": 0.2, "test_size": 0.2,
              "seed": 42, "sequence_length": 200, "vocab_size": 10000, "image_size": null,
              "sha256": "<fingerprint the client expects, optional>"}
           | {"source": "inline", "sha256": "<fingerprint>",
              "payload": null | {"encoding": "npz-base64", "data": "<base64>"}},
     "options": {"return_weights": true,
                 "pruning": null | {"direction": "maximize", "thresholds": [null, 0.81, ...]}}}
    {"operation": "health_check"}
    {"operation": "system_info"}

Outputs: ``{"type": "epoch", "record": <EpochRecord>}`` per epoch, then
``{"type": "result", ...}``; or ``{"type": "error", "code": ..., "message": ...}``;
``{"type": "health", ...}``; ``{"type": "system_info", ...}``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from hpopt.spec import TrialSpec

PROTOCOL_VERSION = 1
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# RunPod's documented request limits; a request over them is refused by the platform.
RUN_MAX_BYTES = 10 * 1000 * 1000
RUNSYNC_MAX_BYTES = 20 * 1000 * 1000
# Largest base64 text a worker accepts in one payload (a little over /runsync's limit).
MAX_PAYLOAD_CHARS = 28 * 1000 * 1000

ErrorCode = Literal[
    "invalid_input",     # the input does not match this schema: refused, nothing ran
    "protocol_mismatch",  # client and worker speak different protocol versions
    "data_not_cached",   # an inline reference without payload that this worker has not seen
    "data_mismatch",     # a builtin dataset loaded here differs from the client's arrays
    "data_unavailable",  # a builtin dataset cannot be loaded on the worker
    "payload_invalid",   # a payload that does not decode, is too large, or fails its sha256
    "internal",          # the trial crashed on the worker (e.g. out of GPU memory)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Payload(_Strict):
    """Arrays as a compressed .npz (never pickled), base64 encoded for JSON."""

    encoding: Literal["npz-base64"] = "npz-base64"
    data: str = Field(max_length=MAX_PAYLOAD_CHARS)


class BuiltinData(_Strict):
    """A built-in dataset the worker loads itself with the same split settings as the client."""

    source: Literal["builtin"] = "builtin"
    name: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    validation_split: float = Field(gt=0, lt=1)
    test_size: float = Field(ge=0, lt=1)
    seed: int = Field(ge=0)
    sequence_length: int = Field(ge=8, le=2000)
    vocab_size: int = Field(ge=100, le=100000)
    image_size: Optional[int] = Field(default=None, ge=8, le=512)
    sha256: Optional[str] = Field(default=None, pattern=SHA256_PATTERN)

    def split_options(self) -> dict[str, Any]:
        """load_dataset's split settings (the client sends OptimizationConfig.split_options())."""
        return self.model_dump(exclude={"source", "name", "sha256"})


class InlineData(_Strict):
    """Arrays sent by the client, addressed by their fingerprint; payload only on a cache miss."""

    source: Literal["inline"] = "inline"
    sha256: str = Field(pattern=SHA256_PATTERN)
    payload: Optional[Payload] = None


DataRef = Annotated[Union[BuiltinData, InlineData], Field(discriminator="source")]


class PruningSchedule(_Strict):
    """Per-epoch thresholds: after epoch i+1 the trial stops when its best value is worse
    than ``thresholds[i]`` (None: no check). Computed by the client from the study."""

    direction: Literal["maximize", "minimize"] = "maximize"
    thresholds: list[Optional[float]] = Field(default_factory=list, max_length=1000)

    def threshold(self, epoch: int) -> Optional[float]:
        if 1 <= epoch <= len(self.thresholds):
            value = self.thresholds[epoch - 1]
            return value if value is not None and math.isfinite(value) else None
        return None

    def should_stop(self, epoch: int, best: float) -> bool:
        """Optuna's PercentilePruner rule: the best value so far against the step's percentile."""
        threshold = self.threshold(epoch)
        if threshold is None:
            return False
        return best < threshold if self.direction == "maximize" else best > threshold


class TrainOptions(_Strict):
    return_weights: bool = False
    pruning: Optional[PruningSchedule] = None


class TrainRequest(_Strict):
    operation: Literal["train"] = "train"
    protocol: int = PROTOCOL_VERSION
    spec: TrialSpec
    data: DataRef
    options: TrainOptions = TrainOptions()


class HealthCheckRequest(_Strict):
    operation: Literal["health_check"] = "health_check"


class SystemInfoRequest(_Strict):
    operation: Literal["system_info"] = "system_info"


class WorkerInput(BaseModel):
    """The whole job input: one of the operations above."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: Annotated[Union[TrainRequest, HealthCheckRequest, SystemInfoRequest],
                       Field(discriminator="operation")]


def parse_input(raw: Any) -> Union[TrainRequest, HealthCheckRequest, SystemInfoRequest]:
    """Validate a job input; raises pydantic.ValidationError for anything else."""
    return WorkerInput.model_validate({"request": raw}).request


# ----------------------------------------------------------------------------- outputs


class ErrorOutput(BaseModel):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str


class EpochOutput(BaseModel):
    type: Literal["epoch"] = "epoch"
    record: dict[str, Any]


class ResultOutput(BaseModel):
    """The finished trial: TrialResult's fields (no model), weights when asked."""

    type: Literal["result"] = "result"
    result: dict[str, Any]
    weights: Optional[Payload] = None
    steps_per_epoch: int
    n_train: int
    data_sha256: str
    pruned_by_worker: bool = False
    started_at: str
    finished_at: str


class HealthOutput(BaseModel):
    type: Literal["health"] = "health"
    status: Literal["ok"] = "ok"
    protocol: int = PROTOCOL_VERSION
    worker: str
    hpopt_version: str
    running: int
    concurrency: int


class SystemInfoOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["system_info"] = "system_info"
    protocol: int = PROTOCOL_VERSION
    worker: str
    gpus: list[dict[str, Any]]
    tensorflow_version: str
    keras_version: str
    python_version: str
    hpopt_version: str
    cached_datasets: int
