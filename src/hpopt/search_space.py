"""Optuna search spaces for CNN and LSTM architectures.

Each suggest function returns a validated architecture (see ``hpopt.spec``); every
sampled value is a field of it, and ``hpopt.models`` uses every field, so a sampled
hyperparameter can never be silently ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from hpopt.spec import CNNArchitecture, DataShape, HealthOptions, LSTMArchitecture, TrialSpec

if TYPE_CHECKING:  # optuna is imported by the caller; keep this module import-light
    import optuna

    from hpopt.config import OptimizationConfig

ACTIVATIONS = ("relu", "leaky_relu", "swish")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
INITIALIZERS = ("glorot_uniform", "he_normal", "lecun_normal")


def suggest_cnn(trial: "optuna.Trial", activation: Optional[str] = None) -> CNNArchitecture:
    """Sample a CNN; ``activation`` fixes the activation instead of searching it."""
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    hidden_layers = trial.suggest_int("hidden_layers", 1, 4)
    # The shrink ratio only exists when there is a second dense layer to shrink to.
    shrink = trial.suggest_float("hidden_shrink", 0.25, 1.0, step=0.25) if hidden_layers > 1 else 1.0
    return CNNArchitecture(
        conv_layers=trial.suggest_int("conv_layers", 1, 4),
        filters=trial.suggest_categorical("filters", [16, 32, 64]),
        kernel_size=trial.suggest_categorical("kernel_size", [3, 5]),
        activation=activation or trial.suggest_categorical("activation", list(ACTIVATIONS)),
        kernel_initializer=trial.suggest_categorical("kernel_initializer", list(INITIALIZERS)),
        batch_norm=trial.suggest_categorical("batch_norm", [False, True]),
        pooling=trial.suggest_categorical("pooling", ["flatten", "global_avg"]),
        hidden_layers=hidden_layers,
        hidden_units=trial.suggest_categorical("hidden_units", [64, 128, 256, 512]),
        hidden_shrink=shrink,
        dropout=trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        optimizer=optimizer,
        learning_rate=_suggest_learning_rate(trial, optimizer),
        batch_size=trial.suggest_categorical("batch_size", [32, 64, 128]),
    )


def suggest_lstm(trial: "optuna.Trial") -> LSTMArchitecture:
    """Sample an LSTM text classifier."""
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    return LSTMArchitecture(
        embedding_dim=trial.suggest_categorical("embedding_dim", [32, 64, 128]),
        lstm_units=trial.suggest_categorical("lstm_units", [32, 64, 128]),
        bidirectional=trial.suggest_categorical("bidirectional", [False, True]),
        hidden_units=trial.suggest_categorical("hidden_units", [32, 64, 128]),
        dropout=trial.suggest_float("dropout", 0.0, 0.5, step=0.1),
        optimizer=optimizer,
        learning_rate=_suggest_learning_rate(trial, optimizer),
        batch_size=trial.suggest_categorical("batch_size", [16, 32, 64]),
    )


def _suggest_learning_rate(trial: "optuna.Trial", optimizer: str) -> float:
    """SGD (with momentum) needs about ten times the step size of the adaptive optimizers.

    A separate parameter name keeps each range a fixed distribution for the sampler.
    """
    if optimizer == "sgd":
        return trial.suggest_float("sgd_learning_rate", 1e-3, 1e-1, log=True)
    return trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)


# Known-good starting points (warm_start): what a practitioner would try first.
BASELINE_CNN = dict(optimizer="adam", hidden_layers=1, conv_layers=3, filters=32, kernel_size=5, activation="relu",
                    kernel_initializer="he_normal", batch_norm=True, pooling="flatten", hidden_units=128,
                    dropout=0.3, learning_rate=2e-3, batch_size=32)
BASELINE_LSTM = dict(optimizer="adam", embedding_dim=128, lstm_units=64, bidirectional=True, hidden_units=64,
                     dropout=0.5, learning_rate=2e-3, batch_size=16)


WARM_START_MAX_EPOCHS = 10  # the baseline converges within this with its cosine schedule


def baseline_params(modality: str, activation: Optional[str], min_epochs: int, max_epochs: int) -> dict:
    """Trial-0 parameters for warm_start; the fixed activation, when set, is not a parameter.

    The baseline trains at most WARM_START_MAX_EPOCHS (within the configured bounds): it
    converges by then, and the rest of the budget is better spent on the search.
    """
    epochs = max(min_epochs, min(max_epochs, WARM_START_MAX_EPOCHS))
    params = dict(BASELINE_CNN if modality == "image" else BASELINE_LSTM, epochs=epochs)
    if activation is not None:
        params.pop("activation", None)
    return params


def suggest_epochs(trial: "optuna.Trial", min_epochs: int, max_epochs: int) -> int:
    """Epochs are part of the search: a trial trains between min and max epochs."""
    return trial.suggest_int("epochs", min_epochs, max_epochs)


def suggest_trial_spec(trial: "optuna.Trial", config: "OptimizationConfig", data: DataShape) -> TrialSpec:
    """The whole declarative spec of one trial: architecture, epochs, seed, health options."""
    if data.modality == "image":
        architecture = suggest_cnn(trial, config.activation)
    else:
        architecture = suggest_lstm(trial)
    return TrialSpec(
        architecture=architecture,
        data=data,
        epochs=suggest_epochs(trial, config.min_epochs_per_trial, config.max_epochs_per_trial),
        seed=config.random_seed + trial.number,
        early_stopping_patience=config.early_stopping_patience if config.enable_early_stopping else None,
        precision=config.precision,
        health=HealthOptions(
            enabled=True,
            frequency=config.health_monitoring_frequency,
            sample_size=config.health_analysis_sample_size,
        ),
    )
