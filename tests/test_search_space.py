"""Every sampled hyperparameter changes the built model or its training."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from hpopt.config import load_config
from hpopt.search_space import suggest_trial_spec
from hpopt.spec import DataShape

IMAGE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)
TEXT = DataShape(modality="text", input_shape=(20,), num_classes=2, vocab_size=500)

CNN_BASE = dict(hidden_layers=2, hidden_shrink=0.5, conv_layers=2, filters=16, kernel_size=3, activation="relu",
                kernel_initializer="glorot_uniform", batch_norm=False, pooling="flatten", hidden_units=64,
                dropout=0.1, optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=2)
CNN_ALTERNATIVES = dict(hidden_layers=3, hidden_shrink=1.0, conv_layers=3, filters=32, kernel_size=5,
                        activation="swish", kernel_initializer="he_normal", batch_norm=True, pooling="global_avg",
                        hidden_units=128, dropout=0.3, optimizer="rmsprop", learning_rate=3e-3, batch_size=64, epochs=3,
                        sgd_learning_rate=0.05)
LSTM_BASE = dict(embedding_dim=32, lstm_units=32, bidirectional=False, hidden_units=32, dropout=0.1,
                 optimizer="adam", learning_rate=1e-3, batch_size=16, epochs=2)
LSTM_ALTERNATIVES = dict(embedding_dim=64, lstm_units=64, bidirectional=True, hidden_units=64, dropout=0.3,
                         optimizer="rmsprop", learning_rate=3e-3, batch_size=32, epochs=3, sgd_learning_rate=0.05)


def _config(**overrides):
    args = {"min_epochs_per_trial": "1", "max_epochs_per_trial": "4", **{k: str(v) for k, v in overrides.items()}}
    return load_config([f"{k}={v}" for k, v in args.items()], environ={}, env_file=None)


def _fingerprint(params: dict, shape: DataShape) -> str:
    """Model architecture + optimizer + training plan: what a sampled value can change."""
    from hpopt.models import build_model

    spec = suggest_trial_spec(optuna.trial.FixedTrial(params), _config(), shape)
    model = build_model(spec)
    return json.dumps({
        "model": model.to_json(),
        "optimizer": {k: str(v) for k, v in model.optimizer.get_config().items() if k != "name"},
        "optimizer_class": type(model.optimizer).__name__,
        "epochs": spec.epochs,
        "batch_size": spec.architecture.batch_size,
    }, sort_keys=True)


def _sampled_names(shape: DataShape) -> set[str]:
    names: set[str] = set()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        suggest_trial_spec(trial, _config(), shape)
        names |= set(trial.params)
        study.tell(trial, 0.0)
    return names


@pytest.mark.parametrize("shape,base,alternatives", [(IMAGE, CNN_BASE, CNN_ALTERNATIVES), (TEXT, LSTM_BASE, LSTM_ALTERNATIVES)],
                         ids=["cnn", "lstm"])
def test_every_sampled_parameter_changes_model_or_training(shape, base, alternatives):
    assert _sampled_names(shape) == set(alternatives), "the test must cover every sampled parameter"
    reference = _fingerprint(base, shape)
    sgd_reference = _fingerprint({**base, "optimizer": "sgd", "sgd_learning_rate": 0.01}, shape)
    for name, value in alternatives.items():
        if name == "sgd_learning_rate":  # only sampled (and only used) with optimizer=sgd
            changed = _fingerprint({**base, "optimizer": "sgd", name: value}, shape)
            assert changed != sgd_reference, f"sampling {name}={value!r} did not change the optimizer"
            continue
        changed = _fingerprint({**base, name: value}, shape)
        assert changed != reference, f"sampling {name}={value!r} did not change the model or its training"


def test_fixed_activation_is_not_searched():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    spec = suggest_trial_spec(trial, _config(activation="leaky_relu"), IMAGE)
    assert "activation" not in trial.params
    assert spec.architecture.activation == "leaky_relu"


def test_shrink_only_sampled_with_several_dense_layers():
    spec = suggest_trial_spec(optuna.trial.FixedTrial({**CNN_BASE, "hidden_layers": 1}), _config(), IMAGE)
    assert spec.architecture.hidden_shrink == 1.0


def test_epochs_stay_within_configured_bounds():
    config = _config(min_epochs_per_trial=2, max_epochs_per_trial=3)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        assert 2 <= suggest_trial_spec(trial, config, IMAGE).epochs <= 3
        study.tell(trial, 0.0)


def test_training_honours_epochs_and_batch_size():
    """batch_size and epochs act on training: optimizer steps = epochs * ceil(n / batch_size)."""
    from types import SimpleNamespace

    from hpopt.training import run_trial

    rng = np.random.default_rng(0)
    data = SimpleNamespace(x_train=rng.integers(0, 255, (100, 8, 8, 1), dtype=np.uint8), y_train=rng.integers(0, 10, 100),
                           x_val=rng.integers(0, 255, (30, 8, 8, 1), dtype=np.uint8), y_val=rng.integers(0, 10, 30))
    for batch_size, epochs in ((32, 1), (64, 2)):
        params = {**CNN_BASE, "batch_size": batch_size, "epochs": epochs, "conv_layers": 1}
        spec = suggest_trial_spec(optuna.trial.FixedTrial(params), _config(enable_early_stopping=False), IMAGE)
        result = run_trial(spec, data)
        assert result.epochs_run == epochs
        assert int(result.model.optimizer.iterations.numpy()) == epochs * int(np.ceil(100 / batch_size))


def test_warm_start_baseline_is_inside_the_search_space_and_its_epoch_bounds():
    from hpopt.search_space import WARM_START_MAX_EPOCHS, baseline_params

    for shape, activation in ((IMAGE, None), (IMAGE, "swish"), (TEXT, None)):
        params = baseline_params(shape.modality, activation, 5, 20)
        assert params["epochs"] == WARM_START_MAX_EPOCHS
        spec = suggest_trial_spec(optuna.trial.FixedTrial(params), _config(**({"activation": activation} if activation else {})), shape)
        assert spec.epochs == WARM_START_MAX_EPOCHS
    assert baseline_params("image", None, 1, 4)["epochs"] == 4
    assert baseline_params("image", None, 15, 20)["epochs"] == 15
