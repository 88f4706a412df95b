"""TrialSpec and TrialResult: the declarative contract shared by every execution path.

A TrialSpec is plain data (JSON serializable, never code): it is what the CLI, the API's
job processes and the GPU worker hand to ``run_trial``. Same spec + same data + same seed
gives the same result wherever it runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Activation = Literal["relu", "leaky_relu", "swish"]
Mode = Literal["simple", "health", "pareto"]
Precision = Literal["auto", "float32", "mixed_float16"]
Optimizer = Literal["adam", "rmsprop", "sgd"]
Initializer = Literal["glorot_uniform", "he_normal", "lecun_normal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CNNArchitecture(_Strict):
    """Hyperparameters of a CNN; every field changes the built model or its training."""

    kind: Literal["cnn"] = "cnn"
    conv_layers: int = Field(ge=1, le=4)
    filters: int = Field(ge=4, le=256, description="filters of the first conv layer; doubled per layer")
    kernel_size: Literal[3, 5]
    activation: Activation = "relu"
    kernel_initializer: Initializer = "glorot_uniform"
    batch_norm: bool = False
    pooling: Literal["flatten", "global_avg"] = "global_avg"
    hidden_layers: int = Field(ge=1, le=4)
    hidden_units: int = Field(ge=8, le=2048, description="width of the first dense layer")
    hidden_shrink: float = Field(ge=0.25, le=1.0, description="width ratio of each next dense layer")
    dropout: float = Field(ge=0.0, le=0.8)
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=4096)


class LSTMArchitecture(_Strict):
    """Hyperparameters of an (optionally bidirectional) LSTM text classifier."""

    kind: Literal["lstm"] = "lstm"
    embedding_dim: int = Field(ge=4, le=1024)
    lstm_units: int = Field(ge=4, le=1024)
    bidirectional: bool = False
    hidden_units: int = Field(ge=8, le=2048)
    activation: Activation = Field(default="relu", description="of the dense layer after the LSTM")
    dropout: float = Field(ge=0.0, le=0.8)
    optimizer: Optimizer = "adam"
    learning_rate: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=4096)


Architecture = Annotated[Union[CNNArchitecture, LSTMArchitecture], Field(discriminator="kind")]


class DataShape(_Strict):
    """What the model builder needs to know about the data, and nothing more."""

    modality: Literal["image", "text"]
    input_shape: tuple[int, ...]
    num_classes: int = Field(ge=2)
    vocab_size: Optional[int] = Field(default=None, ge=2, description="text: token ids are < vocab_size")


class HealthOptions(_Strict):
    """Which health statistics run_trial records, and how often."""

    enabled: bool = True
    frequency: int = Field(default=1, ge=1, description="record every N epochs")
    sample_size: int = Field(default=256, ge=8, le=4096, description="probe batch size")


class ObjectiveSpec(_Strict):
    """What a trial is scored on: run_trial gives every epoch the value the trial would get if it
    ended there, so the pruner compares (and a pruned trial keeps) values on the final scale."""

    mode: Mode = "simple"
    optimize_for: str = Field(default="val_accuracy", min_length=1, max_length=64)
    health_weight: float = Field(default=0.3, ge=0.0, le=1.0)


class TrialSpec(_Strict):
    """Everything one trial needs to train, reproducibly, anywhere."""

    architecture: Architecture
    data: DataShape
    epochs: int = Field(ge=1, le=1000)
    seed: int = Field(ge=0)
    early_stopping_patience: Optional[int] = Field(default=None, ge=1)
    min_steps_per_epoch: int = Field(
        default=0, ge=0, le=100_000,
        description="an epoch is at least this many optimizer steps: a small dataset is passed over "
                    "several times per epoch, so every trial gets enough updates whatever the data size")
    no_learning_after: Optional[int] = Field(
        default=None, ge=1,
        description="epochs after which a trial still at chance level is stopped (status no_learning)")
    time_limit_s: Optional[float] = Field(
        default=None, gt=0,
        description="the run's deadline: training stops at the end of the batch once it has run this "
                    "long; the trial keeps its best epoch (stop_reason deadline)")
    partial_epoch_at_deadline: bool = Field(
        default=True,
        description="a deadline before the trial's first epoch ends: true validates the partial epoch (the "
                    "run's only model so far), false ends the trial at once as pruned (the run has a model)")
    health: HealthOptions = HealthOptions()
    objective: ObjectiveSpec = ObjectiveSpec()
    precision: Precision = Field(
        default="auto", description="auto: mixed_float16 where the trial runs on a GPU, float32 elsewhere")
    class_weight: Optional[dict[int, float]] = Field(
        default=None,
        description="weight of each class id in the loss (resolved from the training split where the "
                    "study runs, so the GPU worker applies the very same weights); None = unweighted")

    @model_validator(mode="after")
    def _class_weight_fits(self) -> "TrialSpec":
        """Every class id a label of the data, every weight finite and positive: the worker checks
        what it is sent before training on it."""
        if self.class_weight is not None:
            classes = self.data.num_classes
            bad = [k for k, w in self.class_weight.items()
                   if not 0 <= k < classes or not (0.0 < w < float("inf"))]
            if bad:
                raise ValueError(f"class_weight: class ids must be in 0..{classes - 1} with finite weights > 0; "
                                 f"bad entries for {bad}")
        return self


class EpochRecord(BaseModel):
    """One epoch's metrics, streamed to the reporter while a trial runs."""

    model_config = ConfigDict(extra="allow")

    epoch: int  # 1-based
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    health: dict[str, Any] = Field(default_factory=dict)
    value: Optional[float] = None  # the objective as if the trial ended here (None: not measurable per epoch)
    final: bool = False  # training ends after this epoch (last epoch, early stopping, no learning): never pruned

    @property
    def objective_value(self) -> float:
        """What the pruner compares: the per-epoch objective, val_accuracy for records without one."""
        return self.value if self.value is not None else self.val_accuracy


class TrialResult(BaseModel):
    """What a finished (or pruned) trial returns to the study."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    history: list[EpochRecord]
    status: Literal["complete", "pruned", "no_learning", "failed"]
    val_accuracy: float  # of the returned weights (the best epoch)
    best_epoch: int
    param_count: int
    model_bytes: int = 0  # bytes of the weight arrays as stored (dtype-aware); 0 = not measured
    train_seconds: float
    health_seconds: float = 0.0  # part of train_seconds spent recording health
    inference_samples_per_s: float = 0.0
    health: dict[str, Any] = Field(default_factory=dict)
    snapshots: list[dict[str, Any]] = Field(default_factory=list)  # raw health statistics per epoch
    architecture: list[dict[str, Any]] = Field(default_factory=list)  # layers: name, type, output_shape, params
    execution: Literal["local", "gpu_proxy"] = "local"
    worker: str = ""
    failure: Optional[str] = None
    stop_reason: Optional[str] = None  # "deadline": the run's time was up (the trial is complete)
    # Metrics of the returned weights' validation predictions (macro_f1, balanced_accuracy), computed
    # where the trial ran when the objective needs them (hpopt.scoring.PREDICTION_OBJECTIVES).
    val_metrics: dict[str, float] = Field(default_factory=dict)
    model: Any = Field(default=None, exclude=True)  # the trained Keras model, local only

    @property
    def epochs_run(self) -> int:
        return len(self.history)
