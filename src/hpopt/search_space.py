"""Optuna search spaces for CNN and LSTM architectures.

Each suggest function returns a validated architecture (see ``hpopt.spec``); every
sampled value is a field of it, and ``hpopt.models`` uses every field, so a sampled
hyperparameter can never be silently ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Union, get_args

from hpopt.space_overrides import LR_NAMES, PARAMETERS, Space
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


def _space(modality: str, space: Optional[Space], activation: Optional[str]) -> Space:
    return space if space is not None else Space(modality, None, activation)  # type: ignore[arg-type]


def suggest_cnn(trial: "optuna.Trial", activation: Optional[str] = None,
                space: Optional[Space] = None) -> CNNArchitecture:
    """Sample a CNN from ``space`` (default: the built-in one, hpopt.space_overrides); ``activation``
    fixes the activation instead of searching it.

    The ranges leave out what trained to chance level or far below the rest on small data
    (bench/baseline_gap.py): global average pooling over fewer than three conv layers (a few
    averaged edge detectors), dense stacks deeper than two, a second dense layer under half
    the first.
    """
    space = _space("image", space, activation)
    optimizer = space.suggest(trial, "optimizer")
    conv_layers = space.suggest(trial, "conv_layers")
    # Averaging needs features worth averaging: shallower stacks always flatten.
    pooling = space.suggest(trial, "pooling") if conv_layers >= 3 else "flatten"
    hidden_layers = space.suggest(trial, "hidden_layers")
    # The shrink ratio only exists when there is a second dense layer to shrink to.
    shrink = space.suggest(trial, "hidden_shrink") if hidden_layers > 1 else 1.0
    return CNNArchitecture(
        conv_layers=conv_layers,
        filters=space.suggest(trial, "filters"),
        kernel_size=space.suggest(trial, "kernel_size"),
        activation=space.suggest(trial, "activation"),
        kernel_initializer=space.suggest(trial, "kernel_initializer"),
        batch_norm=space.suggest(trial, "batch_norm"),
        pooling=pooling,
        hidden_layers=hidden_layers,
        hidden_units=space.suggest(trial, "hidden_units"),
        hidden_shrink=shrink,
        dropout=space.suggest(trial, "dropout"),
        optimizer=optimizer,
        learning_rate=space.suggest(trial, LR_NAMES[optimizer]),
        batch_size=space.suggest(trial, "batch_size"),
    )


def suggest_lstm(trial: "optuna.Trial", activation: Optional[str] = None,
                 space: Optional[Space] = None) -> LSTMArchitecture:
    """Sample an LSTM text classifier; ``activation`` (config) sets its dense layer's, else relu
    (fixed, not searched, unless a search-space file searches it)."""
    space = _space("text", space, activation)
    optimizer = space.suggest(trial, "optimizer")
    return LSTMArchitecture(
        embedding_dim=space.suggest(trial, "embedding_dim"),
        lstm_units=space.suggest(trial, "lstm_units"),
        bidirectional=space.suggest(trial, "bidirectional"),
        hidden_units=space.suggest(trial, "hidden_units"),
        activation=space.suggest(trial, "activation"),
        dropout=space.suggest(trial, "dropout"),
        optimizer=optimizer,
        learning_rate=space.suggest(trial, LR_NAMES[optimizer]),
        batch_size=space.suggest(trial, "batch_size"),
    )


# Per optimizer, the step sizes that train within a short budget: below them a trial is
# still at chance after its warm-up, above them it diverges (measured in bench/baseline_gap.py).
# One learning-rate range per optimizer, each a fixed distribution of its own name for the sampler
# (adam keeps the plain name ``learning_rate``); the table of hpopt.space_overrides holds them.
LEARNING_RATES = {opt: (PARAMETERS["image"][name].default["low"], PARAMETERS["image"][name].default["high"])
                  for opt, name in LR_NAMES.items()}


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


def baseline_params(data: DataShape, activation: Optional[str], max_epochs: int,
                    space: Optional[Space] = None) -> dict:
    """Trial-0 parameters for warm_start, adapted to the data; a fixed activation is not a parameter.

    The baseline may train max_epochs, as long as the plain script it stands for (20 epochs at
    the defaults); early stopping ends it once it plateaus. Capped at 10 epochs it ended
    below the plain script's best epoch on 6,400 MNIST images (bench/baseline_gap.py).
    """
    epochs = max_epochs
    if data.modality == "text":
        params = dict(BASELINE_LSTM, epochs=epochs)
        return space.fit(params) if space is not None else params
    params = dict(BASELINE_CNN, epochs=epochs)
    if min(data.input_shape[:2]) >= LARGE_IMAGE_SIDE:
        params.update(conv_layers=3, pooling="flatten")
    if activation is not None:
        params.pop("activation")
    # A search-space file may leave out a baseline value: that one is sampled (Optuna refuses an
    # enqueued value outside its distribution).
    return space.fit(params) if space is not None else params


def baseline_architecture(data: DataShape) -> Union[CNNArchitecture, LSTMArchitecture]:
    """The warm-start baseline as an architecture, built the way a trial builds it (benchmarks
    train it without a study)."""
    import optuna

    trial = optuna.trial.FixedTrial(baseline_params(data, None, 20))
    return suggest_cnn(trial) if data.modality == "image" else suggest_lstm(trial)


def suggest_epochs(trial: "optuna.Trial", min_epochs: int, max_epochs: int) -> int:
    """Epochs are part of the search: a trial trains between min and max epochs."""
    return trial.suggest_int("epochs", min_epochs, max_epochs)


def run_space(config: "OptimizationConfig", data: DataShape) -> Space:
    """The run's effective space: the built-in one with search_space= and activation= applied."""
    return Space(data.modality, config.search_space, config.activation)


def suggest_trial_spec(trial: "optuna.Trial", config: "OptimizationConfig", data: DataShape) -> TrialSpec:
    """The whole declarative spec of one trial: architecture, epochs, seed, health options."""
    space = run_space(config, data)
    if data.modality == "image":
        architecture = suggest_cnn(trial, space=space)
    else:
        architecture = suggest_lstm(trial, space=space)
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
