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

CNN_BASE = dict(hidden_layers=2, hidden_shrink=0.5, conv_layers=3, filters=16, kernel_size=3, activation="relu",
                kernel_initializer="glorot_uniform", batch_norm=False, pooling="flatten", hidden_units=64,
                dropout=0.1, optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=2,
                sgd_learning_rate=0.02, rmsprop_learning_rate=5e-4)
CNN_ALTERNATIVES = dict(hidden_layers=1, hidden_shrink=1.0, conv_layers=2, filters=32, kernel_size=5,
                        activation="swish", kernel_initializer="he_normal", batch_norm=True, pooling="global_avg",
                        hidden_units=128, dropout=0.3, optimizer="rmsprop", learning_rate=3e-3, batch_size=64, epochs=3,
                        sgd_learning_rate=0.05, rmsprop_learning_rate=1e-3)
LSTM_BASE = dict(embedding_dim=32, lstm_units=32, bidirectional=False, hidden_units=32, dropout=0.1,
                 optimizer="adam", learning_rate=1e-3, batch_size=16, epochs=2,
                 sgd_learning_rate=0.02, rmsprop_learning_rate=5e-4)
LSTM_ALTERNATIVES = dict(embedding_dim=64, lstm_units=64, bidirectional=True, hidden_units=64, dropout=0.3,
                         optimizer="rmsprop", learning_rate=3e-3, batch_size=32, epochs=3, sgd_learning_rate=0.05,
                         rmsprop_learning_rate=1e-3)
# Parameters that exist only with another parameter's value: name -> that value.
CONDITIONAL = {"sgd_learning_rate": {"optimizer": "sgd"}, "rmsprop_learning_rate": {"optimizer": "rmsprop"}}
TRAIN_SAMPLES = 10_000  # large enough that batch size changes the steps of an epoch


def _config(**overrides):
    args = {"min_epochs_per_trial": "1", "max_epochs_per_trial": "4", **{k: str(v) for k, v in overrides.items()}}
    return load_config([f"{k}={v}" for k, v in args.items()], environ={}, env_file=None)


def _fingerprint(params: dict, shape: DataShape) -> str:
    """What training builds from a sampled spec: the model, and the optimizer with its
    learning-rate schedule over the trial's steps (run_trial's own steps_per_epoch). epochs
    and batch_size act only through what training does with them, never as spec fields."""
    from hpopt.models import build_model
    from hpopt.training import steps_per_epoch

    spec = suggest_trial_spec(optuna.trial.FixedTrial(params), _config(), shape)
    model = build_model(spec, steps_per_epoch=steps_per_epoch(spec, TRAIN_SAMPLES))
    optimizer = model.optimizer.get_config()
    return json.dumps({
        # get_config, not to_json: to_json carries the compiled optimizer's auto-numbered name
        # (adam, adam_1, ...), which differs between any two builds and would hide a no-op.
        "model": model.get_config(),
        "optimizer": {k: str(v) for k, v in optimizer.items() if k != "name"},
        "optimizer_class": type(model.optimizer).__name__,
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
    for name, value in alternatives.items():
        if name in CONDITIONAL:  # only sampled (and only used) with its optimizer
            context = {**base, **CONDITIONAL[name]}
            changed = _fingerprint({**context, name: value}, shape)
            assert changed != _fingerprint(context, shape), (
                f"sampling {name}={value!r} did not change the optimizer")
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


def test_training_honours_epochs_batch_size_and_min_steps():
    """batch_size and epochs act on training: optimizer steps = epochs * max(ceil(n / batch_size),
    min_steps_per_epoch), so small data still gets min_steps_per_epoch updates per epoch."""
    from types import SimpleNamespace

    from hpopt.training import run_trial

    rng = np.random.default_rng(0)
    data = SimpleNamespace(x_train=rng.integers(0, 255, (100, 8, 8, 1), dtype=np.uint8), y_train=rng.integers(0, 10, 100),
                           x_val=rng.integers(0, 255, (30, 8, 8, 1), dtype=np.uint8), y_val=rng.integers(0, 10, 30))
    for batch_size, epochs, min_steps, steps in ((32, 1, 0, 4), (64, 2, 0, 2), (64, 2, 7, 7)):
        params = {**CNN_BASE, "batch_size": batch_size, "epochs": epochs, "conv_layers": 1}
        config = _config(enable_early_stopping=False, stop_no_learning=False, min_steps_per_epoch=min_steps)
        spec = suggest_trial_spec(optuna.trial.FixedTrial(params), config, IMAGE)
        result = run_trial(spec, data)
        assert result.epochs_run == epochs
        assert int(result.model.optimizer.iterations.numpy()) == epochs * steps


def test_warm_start_baseline_is_inside_the_search_space_and_its_epoch_bounds():
    from hpopt.search_space import baseline_params

    large = DataShape(modality="image", input_shape=(96, 96, 3), num_classes=5)
    for shape, activation in ((IMAGE, None), (IMAGE, "swish"), (TEXT, None), (large, None)):
        params = baseline_params(shape, activation, 20)
        assert params["epochs"] == 20  # as long as the plain script: early stopping ends it sooner
        trial = optuna.trial.FixedTrial(params)
        spec = suggest_trial_spec(trial, _config(**({"activation": activation} if activation else {})), shape)
        assert spec.epochs == 20
        assert set(params) == set(trial.params), "every baseline value must be a parameter the trial samples"
    assert baseline_params(IMAGE, None, 4)["epochs"] == 4
    assert baseline_params(large, None, 20)["conv_layers"] == 3  # adapted: flatten stays small


def test_warm_start_baseline_is_the_plain_cnn():
    """Trial 0 is what a user writes without hpopt, so the search's best is never below it."""
    from hpopt.models import build_model
    from hpopt.search_space import baseline_params

    spec = suggest_trial_spec(optuna.trial.FixedTrial(baseline_params(IMAGE, None, 20)), _config(), IMAGE)
    model = build_model(spec)
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3))]
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in model.layers)
    dense = [layer.units for layer in model.layers if type(layer).__name__ == "Dense"]
    assert dense == [128, IMAGE.num_classes]
    assert spec.architecture.optimizer == "adam" and spec.architecture.learning_rate == 1e-3


def test_the_warm_start_trial_stops_at_a_shorter_plateau():
    """Its job is a good model early: 3 epochs without improvement end it (configured patience 5)."""
    from hpopt.search_space import WARM_START_ATTR, baseline_params

    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(baseline_params(IMAGE, None, 20), user_attrs={WARM_START_ATTR: True})
    warm, sampled = study.ask(), study.ask()
    assert suggest_trial_spec(warm, _config(), IMAGE).early_stopping_patience == 3
    assert suggest_trial_spec(sampled, _config(), IMAGE).early_stopping_patience == 5
    assert suggest_trial_spec(warm, _config(early_stopping_patience="2"), IMAGE).early_stopping_patience == 2
    assert suggest_trial_spec(warm, _config(enable_early_stopping="false"), IMAGE).early_stopping_patience is None
