"""Optuna search spaces for CNN and LSTM architectures.

Each suggest function returns a validated architecture (see ``hpopt.spec``); every
sampled value is a field of it, and ``hpopt.models`` uses every field, so a sampled
hyperparameter can never be silently ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Union, get_args

from hpopt.spec import (
    Activation,
    CNNArchitecture,
    DataShape,
    HealthOptions,
    Initializer,
    LSTMArchitecture,
    ObjectiveSpec,
    Optimizer,
    TrialSpec,
)

if TYPE_CHECKING:  # optuna is imported by the caller; keep this module import-light
    import optuna

    from hpopt.config import OptimizationConfig

# The choices are the spec's own types: one list each (hpopt.spec).
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
INITIALIZERS: tuple[str, ...] = get_args(Initializer)


def suggest_cnn(trial: "optuna.Trial", activation: Optional[str] = None) -> CNNArchitecture:
    """Sample a CNN; ``activation`` fixes the activation instead of searching it.

    The ranges leave out what trained to chance level or far below the rest on small data
    (bench/baseline_gap.py): global average pooling over fewer than three conv layers (a few
    averaged edge detectors), dense stacks deeper than two, a second dense layer under half
    the first.
    """
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    conv_layers = trial.suggest_int("conv_layers", 1, 3)
    # Averaging needs features worth averaging: shallower stacks always flatten.
    pooling = trial.suggest_categorical("pooling", ["flatten", "global_avg"]) if conv_layers >= 3 else "flatten"
    hidden_layers = trial.suggest_int("hidden_layers", 1, 2)
    # The shrink ratio only exists when there is a second dense layer to shrink to.
    shrink = trial.suggest_float("hidden_shrink", 0.5, 1.0, step=0.25) if hidden_layers > 1 else 1.0
    return CNNArchitecture(
        conv_layers=conv_layers,
        filters=trial.suggest_categorical("filters", [16, 32, 64]),
        kernel_size=trial.suggest_categorical("kernel_size", [3, 5]),
        activation=activation or trial.suggest_categorical("activation", list(ACTIVATIONS)),
        kernel_initializer=trial.suggest_categorical("kernel_initializer", list(INITIALIZERS)),
        batch_norm=trial.suggest_categorical("batch_norm", [False, True]),
        pooling=pooling,
        hidden_layers=hidden_layers,
        hidden_units=trial.suggest_categorical("hidden_units", [64, 128, 256]),
        hidden_shrink=shrink,
        dropout=trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        optimizer=optimizer,
        learning_rate=_suggest_learning_rate(trial, optimizer),
        batch_size=trial.suggest_categorical("batch_size", [32, 64, 128]),
    )


def suggest_lstm(trial: "optuna.Trial", activation: Optional[str] = None) -> LSTMArchitecture:
    """Sample an LSTM text classifier; ``activation`` (config) sets its dense layer's, else relu
    (fixed, not searched)."""
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    return LSTMArchitecture(
        embedding_dim=trial.suggest_categorical("embedding_dim", [32, 64, 128]),
        lstm_units=trial.suggest_categorical("lstm_units", [32, 64, 128]),
        bidirectional=trial.suggest_categorical("bidirectional", [False, True]),
        hidden_units=trial.suggest_categorical("hidden_units", [32, 64, 128]),
        activation=activation or "relu",
        dropout=trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        optimizer=optimizer,
        learning_rate=_suggest_learning_rate(trial, optimizer),
        batch_size=trial.suggest_categorical("batch_size", [16, 32, 64]),
    )


# Per optimizer, the step sizes that train within a short budget: below them a trial is
# still at chance after its warm-up, above them it diverges (measured in bench/baseline_gap.py).
LEARNING_RATES = {"adam": (5e-4, 3e-3), "rmsprop": (3e-4, 2e-3), "sgd": (1e-2, 1e-1)}


def _suggest_learning_rate(trial: "optuna.Trial", optimizer: str) -> float:
    """One learning-rate range per optimizer, each a fixed distribution of its own name for the
    sampler (adam keeps the plain name ``learning_rate``)."""
    low, high = LEARNING_RATES[optimizer]
    name = "learning_rate" if optimizer == "adam" else f"{optimizer}_learning_rate"
    return trial.suggest_float(name, low, high, log=True)


# The warm start (trial 0) is what a user would write without hpopt: the plain Keras CNN
# (two 3x3 conv layers of 32 and 64 filters with max-pooling, dropout 0.3, a dense layer of
# 128, Adam at 1e-3, batch 32, no batch norm) and a plain BiLSTM. The search starts from it,
# so its best is never below it; hpopt's step budget, learning-rate decay and best-epoch
# weights already make it train better than the plain script does.
BASELINE_CNN = dict(optimizer="adam", conv_layers=2, filters=32, kernel_size=3, activation="relu",
                    kernel_initializer="glorot_uniform", batch_norm=False, hidden_layers=1, hidden_units=128,
                    dropout=0.3, learning_rate=1e-3, batch_size=32)
BASELINE_LSTM = dict(optimizer="adam", embedding_dim=64, lstm_units=32, bidirectional=True, hidden_units=64,
                     dropout=0.3, learning_rate=1e-3, batch_size=32)
LARGE_IMAGE_SIDE = 64  # from this size on the baseline adds a third conv layer (flatten stays small)
# The warm-start trial is marked with this user attribute; it stops after this many epochs
# without improvement (if the configured patience is not shorter): the baseline's job is a good
# model early, and a plateau of 3 epochs is enough to say it has given it.
WARM_START_ATTR = "warm_start"
WARM_START_PATIENCE = 3


def baseline_params(data: DataShape, activation: Optional[str], max_epochs: int) -> dict:
    """Trial-0 parameters for warm_start, adapted to the data; a fixed activation is not a parameter.

    The baseline may train max_epochs, as long as the plain script it stands for (20 epochs at
    the defaults); early stopping ends it once it plateaus. Capped at 10 epochs it ended
    below the plain script's best epoch on 6,400 MNIST images (bench/baseline_gap.py).
    """
    epochs = max_epochs
    if data.modality == "text":
        return dict(BASELINE_LSTM, epochs=epochs)
    params = dict(BASELINE_CNN, epochs=epochs)
    if min(data.input_shape[:2]) >= LARGE_IMAGE_SIDE:
        params.update(conv_layers=3, pooling="flatten")
    if activation is not None:
        params.pop("activation")
    return params


def baseline_architecture(data: DataShape) -> Union[CNNArchitecture, LSTMArchitecture]:
    """The warm-start baseline as an architecture, built the way a trial builds it (benchmarks
    train it without a study)."""
    import optuna

    trial = optuna.trial.FixedTrial(baseline_params(data, None, 20))
    return suggest_cnn(trial) if data.modality == "image" else suggest_lstm(trial)


def suggest_epochs(trial: "optuna.Trial", min_epochs: int, max_epochs: int) -> int:
    """Epochs are part of the search: a trial trains between min and max epochs."""
    return trial.suggest_int("epochs", min_epochs, max_epochs)


def suggest_trial_spec(trial: "optuna.Trial", config: "OptimizationConfig", data: DataShape) -> TrialSpec:
    """The whole declarative spec of one trial: architecture, epochs, seed, health options."""
    if data.modality == "image":
        architecture = suggest_cnn(trial, config.activation)
    else:
        architecture = suggest_lstm(trial, config.activation)
    patience = config.early_stopping_patience if config.enable_early_stopping else None
    if patience is not None and trial.user_attrs.get(WARM_START_ATTR):
        patience = min(patience, WARM_START_PATIENCE)
    return TrialSpec(
        architecture=architecture,
        data=data,
        epochs=suggest_epochs(trial, config.min_epochs_per_trial, config.max_epochs_per_trial),
        seed=config.random_seed + trial.number,
        early_stopping_patience=patience,
        min_steps_per_epoch=config.min_steps_per_epoch,
        no_learning_after=max(1, config.n_warmup_steps) if config.stop_no_learning else None,
        objective=ObjectiveSpec(mode=config.mode, optimize_for=config.optimize_for,
                                health_weight=config.health_weight),
        precision=config.precision,
        health=HealthOptions(
            enabled=True,
            frequency=config.health_monitoring_frequency,
            sample_size=config.health_analysis_sample_size,
        ),
    )
