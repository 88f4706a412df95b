"""The two Optuna peers a user writes from scratch, after Optuna's Keras example.

Both follow optuna-examples' keras/keras_simple.py (a small Sequential CNN built in the
objective, ``clear_session()`` first, inputs scaled to [0, 1], ``model.fit`` on numpy
arrays, the validation accuracy returned) with a space a user would write for MNIST; none
of hpopt's code (its space, model builder, schedules) is used, so these measure what a user
gets without hpopt:

- conv layers 1-3 (``suggest_int``), filters 16/32/64 (``suggest_categorical``, as the
  example does), kernel 3 or 5, dense units 64-256 (``suggest_int``), dropout 0-0.5, Adam
  learning rate 1e-4..1e-2 (log), batch size 32/64/128 (``suggest_categorical``);
- model: per conv layer Conv2D(same padding)+ReLU, then MaxPooling2D while the feature
  map is at least 2x2; Flatten, Dense+ReLU, Dropout, Dense softmax.

``optuna_small`` (the plain user): TPESampler(seed), no pruner, 3 epochs per trial, the last
epoch's val_accuracy returned (what the example's ``model.evaluate`` on the validation set
gives, without a second pass). ``optuna_hyperband`` (the expert): the same, with
HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3), an epoch cap of 9 per
trial, and optuna-integration's ``KerasPruningCallback(trial, "val_accuracy")``, which works
with Keras 3 (it subclasses ``keras.callbacks.Callback``; it reports ``step=epoch`` counted
from 0, so the first rung is judged after a trial's 2nd epoch).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

FILTERS = (16, 32, 64)
BATCH_SIZES = (32, 64, 128)


class EpochCallback(keras.callbacks.Callback):
    """Hands each epoch's val_accuracy to the parent's timeline (listed before the pruner)."""

    def __init__(self, writer: Any, trial: int) -> None:
        super().__init__()
        self.writer = writer
        self.trial = trial

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.writer.epoch(self.trial, (logs or {}).get("val_accuracy"))


def small_cnn(trial: Any, input_shape: tuple[int, ...], num_classes: int) -> tuple[keras.Model, int]:
    """The user's Sequential CNN with the sampled hyperparameters, compiled; returns it and the batch size."""
    conv_layers = trial.suggest_int("conv_layers", 1, 3)
    filters = trial.suggest_categorical("filters", list(FILTERS))
    kernel = trial.suggest_categorical("kernel_size", [3, 5])
    units = trial.suggest_int("dense_units", 64, 256)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    learning_rate = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
    batch_size = trial.suggest_categorical("batch_size", list(BATCH_SIZES))

    model = keras.Sequential([keras.layers.Input(shape=input_shape)])
    side = min(input_shape[0], input_shape[1])
    for _ in range(conv_layers):
        model.add(keras.layers.Conv2D(filters, kernel, padding="same", activation="relu"))
        if side >= 2:
            model.add(keras.layers.MaxPooling2D())
            side //= 2
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(num_classes, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  metrics=["accuracy"])
    return model, batch_size


def run_small_optuna(split: Any, seed: int, writer: Any, remaining_s: float, hyperband: bool,
                     epochs: int) -> dict[str, Any]:
    """optuna_small (no pruner, ``epochs`` per trial) or optuna_hyperband (``epochs`` = the cap)."""
    import optuna

    x_train = split.x_train.astype("float32") / 255.0
    x_val = split.x_val.astype("float32") / 255.0
    y_train, y_val = np.asarray(split.y_train), np.asarray(split.y_val)

    def objective(trial: optuna.Trial) -> float:
        keras.backend.clear_session()
        model, batch_size = small_cnn(trial, split.input_shape, split.num_classes)
        callbacks: list[keras.callbacks.Callback] = [EpochCallback(writer, trial.number)]
        if hyperband:
            from optuna_integration import KerasPruningCallback

            callbacks.append(KerasPruningCallback(trial, "val_accuracy"))
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), shuffle=True, batch_size=batch_size,
                            epochs=epochs, verbose=0, callbacks=callbacks)
        return float(history.history["val_accuracy"][-1])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    keras.utils.set_random_seed(seed)
    pruner = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3) if hyperband
              else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    study.optimize(objective, timeout=max(1.0, remaining_s))  # the parent kills the process at the budget anyway
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return {"study_trials": len(study.trials), "pruned_trials": pruned}
