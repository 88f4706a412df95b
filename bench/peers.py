"""What hpopt is measured against: the same search done the way a user would do it without hpopt.

Two peers, both on the same search space and the same model builder as hpopt (so the
comparison is about search and training strategy, not about architectures):

- ``run_plain_optuna``: the loop from Optuna's Keras examples: TPE with a seed, no pruner,
  a fixed number of epochs, ``model.fit`` on the numpy arrays, ``study.optimize(timeout=)``.
- ``run_keras_tuner``: KerasTuner's Hyperband with the same ranges written as ``hp.*`` calls.

Both report every epoch to an ``EpochLog`` through ``BudgetCallback``, which also ends the
running ``fit`` at the first batch after the budget (``model.stop_training``), because
``timeout=`` in Optuna and KerasTuner only stops *new* trials from starting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import keras
from peers_clock import EpochLog

from hpopt.models import build_model
from hpopt.search_space import ACTIVATIONS, INITIALIZERS, OPTIMIZERS
from hpopt.spec import CNNArchitecture, DataShape, TrialSpec


class BudgetCallback(keras.callbacks.Callback):
    """Notes each epoch's val_accuracy and stops training at the first batch past the budget."""

    def __init__(self, log: EpochLog, trial: Any) -> None:
        super().__init__()
        self.log = log
        self.trial = trial

    def __deepcopy__(self, memo: dict) -> "BudgetCallback":
        # KerasTuner deep-copies the callbacks of every trial; the copy must share the log.
        return BudgetCallback(self.log, self.trial)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self.log.expired():
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.log.epoch(self.trial, (logs or {}).get("val_accuracy"))


def data_shape(data: Any) -> DataShape:
    return DataShape(modality="image", input_shape=tuple(int(d) for d in data.input_shape),
                     num_classes=data.num_classes)


def run_plain_optuna(data: Any, seed: int, log: EpochLog, epochs: int = 5) -> dict[str, Any]:
    """Optuna as its Keras example writes it: TPE(seed), no pruner, fixed epochs, plain fit."""
    import optuna

    from hpopt.search_space import suggest_cnn

    shape = data_shape(data)

    def objective(trial: optuna.Trial) -> float:
        keras.backend.clear_session()
        log.trial_started(trial.number)
        arch = suggest_cnn(trial)
        model = build_model(TrialSpec(architecture=arch, data=shape, epochs=epochs, seed=seed))  # no LR schedule
        history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                            batch_size=arch.batch_size, verbose=0, callbacks=[BudgetCallback(log, trial.number)])
        accuracies = history.history.get("val_accuracy") or [0.0]
        return float(accuracies[-1])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    keras.utils.set_random_seed(seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=max(1.0, log.budget_s - log.elapsed()))
    return {"study_trials": len(study.trials)}


def _kt_architecture(hp: Any) -> CNNArchitecture:
    """suggest_cnn's ranges as KerasTuner hyperparameters (conditional ones in conditional scopes)."""
    optimizer = hp.Choice("optimizer", list(OPTIMIZERS))
    hidden_layers = hp.Int("hidden_layers", 1, 4)
    # Declared unconditionally inside their scopes: KerasTuner returns None while a scope is
    # inactive, and finds every conditional parameter up front only when declared this way.
    with hp.conditional_scope("hidden_layers", [2, 3, 4]):
        shrink = hp.Float("hidden_shrink", 0.25, 1.0, step=0.25)
    with hp.conditional_scope("optimizer", ["sgd"]):
        sgd_lr = hp.Float("sgd_learning_rate", 1e-3, 1e-1, sampling="log")
    with hp.conditional_scope("optimizer", ["adam", "rmsprop"]):
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    return CNNArchitecture(
        conv_layers=hp.Int("conv_layers", 1, 4),
        filters=hp.Choice("filters", [16, 32, 64]),
        kernel_size=hp.Choice("kernel_size", [3, 5]),
        activation=hp.Choice("activation", list(ACTIVATIONS)),
        kernel_initializer=hp.Choice("kernel_initializer", list(INITIALIZERS)),
        batch_norm=hp.Boolean("batch_norm"),
        pooling=hp.Choice("pooling", ["flatten", "global_avg"]),
        hidden_layers=hidden_layers,
        hidden_units=hp.Choice("hidden_units", [64, 128, 256, 512]),
        hidden_shrink=shrink if hidden_layers > 1 else 1.0,
        dropout=hp.Float("dropout", 0.0, 0.5, step=0.1),
        optimizer=optimizer,
        learning_rate=sgd_lr if optimizer == "sgd" else lr,
        batch_size=hp.Choice("batch_size", [32, 64, 128]),
    )


def run_keras_tuner(data: Any, seed: int, log: EpochLog, workdir: Path, max_epochs: int = 20,
                    factor: int = 3) -> dict[str, Any]:
    """KerasTuner Hyperband, stopped at the budget.

    The oracle answers STOPPED once the budget is spent (KerasTuner's own way for an
    oracle to end ``search``), and ``BudgetCallback`` ends the running fit. Many
    Hyperband iterations are allowed so the search never ends early for lack of brackets.
    """
    import keras_tuner as kt

    shape = data_shape(data)

    class CNNHyperModel(kt.HyperModel):
        def build(self, hp: Any) -> keras.Model:
            arch = _kt_architecture(hp)
            return build_model(TrialSpec(architecture=arch, data=shape, epochs=max_epochs, seed=seed))

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    class BudgetOracle(kt.oracles.HyperbandOracle):
        def populate_space(self, trial_id: str) -> dict[str, Any]:
            if log.expired():
                return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
            return super().populate_space(trial_id)

    class BudgetHyperband(kt.Hyperband):
        def __init__(self, **kwargs: Any) -> None:
            oracle = BudgetOracle(objective=kt.Objective("val_accuracy", "max"), max_epochs=max_epochs,
                                  factor=factor, hyperband_iterations=1000, seed=seed)
            kt.Tuner.__init__(self, oracle=oracle, **kwargs)  # what kt.Hyperband.__init__ does, with our oracle

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            log.trial_started(trial.trial_id)
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), BudgetCallback(log, trial.trial_id)]
            return super().run_trial(trial, *args, **kwargs)

    keras.utils.set_random_seed(seed)
    tuner = BudgetHyperband(hypermodel=CNNHyperModel(), directory=str(workdir), project_name=f"kt_seed{seed}",
                            overwrite=True)
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), verbose=0)
    return {"oracle_trials": len(tuner.oracle.trials)}
