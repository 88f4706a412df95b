"""Config keys that used to be silently ignored or mislabelled now act (issue 11, items 6-7):
memory_efficiency is accuracy per measured MB, optimize_for=accuracy says it means training
accuracy, inference_speed is a median, activation reaches the LSTM head, log_level reaches
worker processes, and an idle pruner is announced."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from hpopt.config import ALL_MODE_OBJECTIVES, OptimizationConfig, load_config
from hpopt.scoring import OBJECTIVES, study_directions, trial_value
from hpopt.spec import CNNArchitecture, DataShape, EpochRecord, LSTMArchitecture, TrialResult, TrialSpec

TEXT = DataShape(modality="text", input_shape=(12,), num_classes=2, vocab_size=50)


def _config(*args: str) -> OptimizationConfig:
    return load_config(list(args), environ={}, env_file=None)


def _result(val_accuracy: float, *, train_accuracy: float = 0.99, params: int = 1_000_000,
            model_bytes: int = 0) -> TrialResult:
    history = [EpochRecord(epoch=1, loss=0.5, accuracy=train_accuracy, val_loss=0.5, val_accuracy=val_accuracy,
                           seconds=1.0)]
    return TrialResult(history=history, status="complete", val_accuracy=val_accuracy, best_epoch=1,
                       param_count=params, model_bytes=model_bytes, train_seconds=1.0,
                       health={"overall_health": 0.5})


# ----------------------------------------------------------------------------- memory_efficiency

def test_memory_efficiency_is_validation_accuracy_per_measured_megabyte():
    objective = OBJECTIVES["memory_efficiency"]
    assert objective.direction == "maximize" and study_directions("simple", "memory_efficiency") == ["maximize"]
    # The measured bytes decide, not 4 bytes per parameter: 2 MB of weights (e.g. float16).
    assert objective.raw(_result(0.9, params=1_000_000, model_bytes=2_000_000)) == pytest.approx(0.45)
    # Without a measurement (an older GPU worker's result): 4 bytes per parameter.
    assert objective.raw(_result(0.9, params=1_000_000)) == pytest.approx(0.9 / 4.0)
    # Accuracy counts: same size, more accurate wins, in simple and in health mode.
    small_bad, small_good = _result(0.3, model_bytes=400_000), _result(0.9, model_bytes=400_000)
    for mode in ("simple", "health"):
        assert trial_value(mode, "memory_efficiency", 0.3, small_good) > trial_value(mode, "memory_efficiency", 0.3,
                                                                                     small_bad)
    # Size counts: same accuracy, smaller wins.
    assert objective.raw(_result(0.9, model_bytes=100_000)) > objective.raw(_result(0.9, model_bytes=4_000_000))
    # The health-mode score: [0, 1], monotone, 1 accuracy/MB scores 0.5; a degenerate model stays finite.
    scores = [objective.score(a) for a in (0.0, 0.1, 1.0, 10.0, 1e6)]
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[2] == pytest.approx(0.5) and scores[-1] <= 1.0
    assert np.isfinite(objective.raw(_result(0.9, params=0, model_bytes=0)))


def test_run_trial_measures_the_bytes_of_the_weight_arrays():
    from hpopt.training import run_trial

    rng = np.random.default_rng(0)
    data = SimpleNamespace(x_train=rng.integers(0, 255, (64, 8, 8, 1), dtype=np.uint8), y_train=rng.integers(0, 3, 64),
                           x_val=rng.integers(0, 255, (16, 8, 8, 1), dtype=np.uint8), y_val=rng.integers(0, 3, 16))
    arch = CNNArchitecture(conv_layers=1, filters=4, kernel_size=3, batch_norm=True, hidden_layers=1, hidden_units=8,
                           hidden_shrink=1.0, dropout=0.0, learning_rate=1e-3, batch_size=32)
    spec = TrialSpec(architecture=arch, data=DataShape(modality="image", input_shape=(8, 8, 1), num_classes=3),
                     epochs=1, seed=0, health={"enabled": False})
    result = run_trial(spec, data)
    assert result.status == "complete", result.failure
    measured = sum(np.asarray(w.numpy()).nbytes for w in result.model.weights)
    assert result.model_bytes == measured > 0
    assert result.model_bytes == 4 * result.param_count  # float32 weights (batch-norm statistics included)
    assert result.inference_samples_per_s > 0


# ----------------------------------------------------------------------------- optimize_for=accuracy

def test_accuracy_is_an_alias_of_train_accuracy_and_says_so(caplog):
    assert "train_accuracy" in ALL_MODE_OBJECTIVES and "accuracy" not in ALL_MODE_OBJECTIVES
    with caplog.at_level(logging.WARNING, logger="hpopt.config"):
        config = _config("optimize_for=accuracy")
    assert config.optimize_for == "train_accuracy"
    assert any("training accuracy" in r.getMessage() and "val_accuracy" in r.getMessage() for r in caplog.records)
    assert _config("optimize_for=train_accuracy").optimize_for == "train_accuracy"
    assert load_config({"optimize_for": "accuracy"}, environ={}, env_file=None).optimize_for == "train_accuracy"
    # A config.json written before the rename still loads (the API's job runner re-reads it).
    assert OptimizationConfig.model_validate({"optimize_for": "accuracy"}).optimize_for == "train_accuracy"
    # And it means training accuracy: a model that memorizes its training data scores high.
    overfit = _result(0.5, train_accuracy=1.0)
    assert trial_value("simple", "train_accuracy", 0.3, overfit) == pytest.approx(1.0)
    assert trial_value("simple", "val_accuracy", 0.3, overfit) == pytest.approx(0.5)
    from hpopt.trial_objective import pruning_applies

    assert pruning_applies(_config("optimize_for=accuracy"))


# ----------------------------------------------------------------------------- inference_speed

def test_inference_speed_is_the_median_of_timed_passes_after_a_warm_up(monkeypatch):
    import hpopt.training as training

    clock = [0.0]
    durations = iter([50.0, 100.0, 1.0, 1.0, 2.0, 1.0])  # warm-up (tracing), then a first pass hit by a stall

    class SlowModel:
        calls = 0

        def __call__(self, batch, training=False):
            SlowModel.calls += 1
            clock[0] += next(durations)

    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    speed = training._inference_speed(SlowModel(), np.zeros((10, 4, 4, 1), np.uint8))
    assert SlowModel.calls == 6
    assert speed == pytest.approx(10 / 1.0)  # the median pass, neither the stall nor the warm-up


# ----------------------------------------------------------------------------- activation on text

def test_activation_reaches_the_lstm_dense_head_without_being_searched():
    from hpopt.models import build_model
    from hpopt.search_space import suggest_trial_spec

    def dense_activation(config: OptimizationConfig) -> tuple[str, dict]:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        trial = study.ask()
        spec = suggest_trial_spec(trial, config, TEXT)
        model = build_model(spec)
        return model.get_layer("dense_1_act").get_config()["activation"], dict(trial.params)

    activation, params = dense_activation(_config())
    assert activation == "relu" and "activation" not in params
    activation, params = dense_activation(_config("activation=swish"))
    assert activation == "silu" and "activation" not in params
    assert dense_activation(_config("activation=leaky_relu"))[0] == "leaky_relu"
    assert LSTMArchitecture(embedding_dim=8, lstm_units=8, hidden_units=8, dropout=0.0, learning_rate=1e-3,
                            batch_size=8).activation == "relu"  # specs written before the field keep relu


# ----------------------------------------------------------------------------- log_level in workers

@pytest.mark.parametrize("level", ["DEBUG", "WARNING"])
def test_worker_processes_log_at_the_configured_level(tmp_path, monkeypatch, level):
    import hpopt.interrupts
    import hpopt.trial_loop
    from hpopt.run_clock import RunClock
    from hpopt.worker_pool import _worker_main

    class Stop(Exception):
        pass

    def stop_here(config):
        logging.getLogger("hpopt.test").debug("a debug line")
        logging.getLogger("hpopt.test").info("an info line")
        logging.getLogger("hpopt.test").warning("a warning line")
        raise Stop

    env = {"HYPEROPT_WORKER_INDEX": "0", "TF_NUM_INTRAOP_THREADS": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # restored after the test, though _worker_main sets them
    monkeypatch.setattr(hpopt.interrupts, "install", lambda: None)
    monkeypatch.setattr(hpopt.trial_loop, "load_run_data", stop_here)
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    log_file = tmp_path / "worker.log"
    try:
        with pytest.raises(Stop):
            _worker_main(_config(f"log_level={level}"), "study", str(tmp_path), env, str(log_file), RunClock.start(None))
    finally:
        for handler in [h for h in root.handlers if h not in saved_handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved_level)
    text = log_file.read_text(encoding="utf-8")
    assert "a warning line" in text
    assert ("a debug line" in text) == (level == "DEBUG")
    assert ("an info line" in text) == (level == "DEBUG")
    assert os.environ["HYPEROPT_WORKER_INDEX"] == "0"


# ----------------------------------------------------------------------------- an idle pruner is announced

@pytest.mark.parametrize("args,expected", [
    (["optimize_for=training_time"], logging.WARNING),
    (["optimize_for=memory_efficiency", "pruner=hyperband"], None),  # accuracy per MB exists every epoch
    (["optimize_for=inference_speed", "pruner=hyperband"], logging.WARNING),
    (["mode=pareto", "pruner=median"], logging.WARNING),
    (["mode=pareto"], logging.INFO),  # the default pruner in pareto mode: documented, not worth a warning
    (["optimize_for=val_accuracy"], None),
    (["optimize_for=training_time", "mode=health"], logging.WARNING),  # the blend needs the final time
    (["optimize_for=training_time", "pruner=none"], None),
])
def test_a_configured_pruner_that_will_not_act_is_announced_when_the_run_starts(tmp_path, monkeypatch, caplog,
                                                                              args, expected):
    import hpopt.runner

    class Stop(Exception):
        pass

    def stop_here(config):
        raise Stop

    monkeypatch.setattr(hpopt.runner, "load_run_data", stop_here)
    config = _config(*args, f"results_dir={tmp_path}", "run_name=r")
    with caplog.at_level(logging.INFO, logger="hpopt.runner"), pytest.raises(Stop):
        hpopt.runner.run_optimization(config)
    lines = [r for r in caplog.records if r.name == "hpopt.runner" and "will not act" in r.getMessage()]
    if expected is None:
        assert not lines
    else:
        assert len(lines) == 1 and lines[0].levelno == expected
        assert f"pruner={config.pruner}" in lines[0].getMessage()
