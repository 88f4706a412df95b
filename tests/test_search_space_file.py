"""search_space=: a YAML file (or the API's JSON object) overriding the built-in search space.

Checked before TensorFlow loads (one-line errors, exit 2 / 422), sampled exactly as written (locally and
through the real GPU worker), written to the run folder and summary.json, part of the resume fingerprint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from gpu_worker_helpers import running_worker

from hpopt.api.optimize_request import RequestError, config_from_body
from hpopt.config import ConfigError, load_config
from hpopt.search_space import baseline_params, suggest_trial_spec
from hpopt.space_overrides import LR_NAMES, PARAMETERS, Space
from hpopt.spec import DataShape
from hpopt.study import StudyMismatchError, check_fingerprint

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
IMAGE = DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10)
TEXT = DataShape(modality="text", input_shape=(200,), num_classes=2, vocab_size=10000)
FIXED = "optimizer: adam\nconv_layers: [1, 2]\n"
RUN = {"trials": "2", "max_epochs_per_trial": "1", "min_epochs_per_trial": "1", "plot_generation": "none",
       "n_startup_trials": "1", "min_steps_per_epoch": "5"}


def _file(tmp_path: Path, text: str, name: str = "space.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _config(**values: str):
    return load_config(values, environ={}, env_file=None)


def _error(tmp_path: Path, text: str, dataset: str = "digits") -> str:
    path = _file(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        _config(dataset=dataset, search_space=path)
    message = str(error.value)
    assert "\n" not in message
    return message


def _sampled(config, shape: DataShape, n: int = 40) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    params = []
    for _ in range(n):
        trial = study.ask()
        suggest_trial_spec(trial, config, shape)
        params.append(dict(trial.params))
        study.tell(trial, 0.5)
    return params


# ----------------------------------------------------------------------------- the examples and the table


@pytest.mark.parametrize("name, dataset, modality", [("search_space_cnn.yaml", "digits", "image"),
                                                      ("search_space_lstm.yaml", "imdb", "text")])
def test_the_examples_are_valid_and_sampled_as_written(name, dataset, modality):
    config = _config(dataset=dataset, search_space=str(EXAMPLES / name))
    written = yaml.safe_load((EXAMPLES / name).read_text())
    assert set(config.search_space) == set(written)
    shape = IMAGE if modality == "image" else TEXT
    for params in _sampled(config, shape):
        for key, spec in written.items():
            # learning_rate sets every optimizer's own learning-rate parameter
            value = params[LR_NAMES[params["optimizer"]] if key == "learning_rate" else key]
            if isinstance(spec, list):
                assert value in spec, key
            elif isinstance(spec, dict):
                assert spec["low"] <= value <= spec["high"], key
            else:
                assert value == spec, key


def test_the_table_holds_the_built_in_space():
    """Without a file the space is what search_space.py always sampled (bench results stay comparable)."""
    space = Space("image").to_dict()
    assert space["conv_layers"] == {"low": 1, "high": 3}
    assert space["filters"] == [16, 32, 64]
    assert space["sgd_learning_rate"] == {"low": 1e-2, "high": 1e-1, "log": True}
    assert Space("text").to_dict()["activation"] == "relu"
    assert not Space("text").is_parameter("activation")  # the LSTM's activation is not searched by default
    assert set(PARAMETERS["image"]) & set(PARAMETERS["text"]) >= {"optimizer", "dropout", "batch_size"}


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("text, expected", [
    ("conv_layer: [1, 2]\n", "unknown parameter 'conv_layer' — did you mean 'conv_layers'?"),
    ("learning_rate: {low: 0.01, high: 0.001}\n", "learning_rate range is inverted"),
    ("dropout: {low: 0.2, high: 0.2}\n", "dropout range is empty"),
    ("conv_layers: []\n", "conv_layers has an empty list of choices"),
    ("conv_layers: [1, 9]\n", "conv_layers=9 is not allowed: expected an integer 1 ≤ x ≤ 4"),
    ("optimizer: adamw\n", "optimizer='adamw' is not allowed: expected adam, rmsprop, sgd — did you mean 'adam'?"),
    ("filters: many\n", "filters='many' is not allowed: expected an integer"),
    ("batch_norm: [yes please]\n", "batch_norm='yes please' is not allowed: expected true or false"),
    ("optimizer: {low: 1, high: 2}\n", "optimizer takes choices or one value, not a range"),
    ("dropout: {low: 0.0, hihg: 0.5}\n", "unknown range key 'hihg' — did you mean 'high'?"),
    ("dropout: {low: 0.0, high: 0.5, log: true}\n", "dropout range on a log scale needs low > 0"),
    ("epochs: 3\n", "epochs is set by min_epochs_per_trial and max_epochs_per_trial"),
    ("lstm_units: [32]\n", "lstm_units is not a parameter of the CNN (image data) search space"),
    ("- adam\n", "expected a mapping"),
    ("optimizer: [adam\n", "not valid YAML"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_parameter(tmp_path, text, expected):
    message = _error(tmp_path, text)
    assert expected in message
    assert "space.yaml" in message


def test_a_text_dataset_is_checked_against_the_lstm_space(tmp_path):
    assert "conv_layers is not a parameter of the LSTM (text data) search space" in _error(
        tmp_path, "conv_layers: 2\n", dataset="imdb")


def test_activation_key_and_file_cannot_both_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="both fix the activation"):
        _config(activation="swish", search_space=_file(tmp_path, "activation: relu\n"))


def test_a_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="cannot read search space file .*nowhere.yaml"):
        _config(search_space=str(tmp_path / "nowhere.yaml"))


def test_cli_exits_2_naming_the_closest_parameter_before_tensorflow(tmp_path):
    path = _file(tmp_path, "optimizer: adam\nconv_layer: [1, 2]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    done = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "src" / "optimizer.py"), "dataset=digits",
                           f"search_space={path}"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**env, "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 2
    assert "did you mean 'conv_layers'?" in done.stderr and path in done.stderr
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert imported and not any(name.split(".")[0] == "tensorflow" for name in imported)


def test_the_environment_variable_sets_it(tmp_path):
    path = _file(tmp_path, FIXED)
    config = load_config({}, environ={"HYPEROPT_SEARCH_SPACE": path}, env_file=None)
    assert config.search_space == {"optimizer": "adam", "conv_layers": [1, 2]}


# ----------------------------------------------------------------------------- sampling


def test_fixed_values_and_choices_are_all_a_trial_gets():
    config = load_config(
        {"search_space": {"optimizer": "sgd", "conv_layers": [1, 2], "sgd_learning_rate": 0.05,
                          "dropout": {"low": 0.1, "high": 0.2, "step": 0.1}}}, environ={}, env_file=None)
    for params in _sampled(config, IMAGE):
        assert params["optimizer"] == "sgd" and params["conv_layers"] in (1, 2)
        assert params["sgd_learning_rate"] == 0.05 and params["dropout"] in (0.1, 0.2)
        assert "pooling" not in params  # only searched from 3 conv layers


def test_the_warm_start_baseline_keeps_only_values_inside_the_space():
    space = Space("image", {"optimizer": "sgd", "conv_layers": [1], "dropout": 0.3})
    params = baseline_params(IMAGE, None, 5, space)
    assert "optimizer" not in params and "conv_layers" not in params  # outside: sampled instead
    assert params["dropout"] == 0.3 and params["filters"] == 32 and params["epochs"] == 5
    study = optuna.create_study()
    study.enqueue_trial(params)
    trial = study.ask()
    suggest_trial_spec(trial, load_config({"search_space": {"optimizer": "sgd", "conv_layers": [1], "dropout": 0.3}},
                                          environ={}, env_file=None), IMAGE)
    assert trial.params["optimizer"] == "sgd" and trial.params["filters"] == 32


# ----------------------------------------------------------------------------- API


def test_api_takes_a_json_object_and_refuses_a_path(tmp_path):
    config = config_from_body({"dataset": "digits", "search_space": {"optimizer": "adam", "conv_layers": [1, 2]}},
                              tmp_path, env_file=None)
    assert config.search_space == {"optimizer": "adam", "conv_layers": [1, 2]}
    with pytest.raises(RequestError, match="cannot name a file on the server") as error:
        config_from_body({"search_space": str(EXAMPLES / "search_space_cnn.yaml")}, tmp_path, env_file=None)
    assert error.value.key == "search_space"
    with pytest.raises(RequestError, match="did you mean 'conv_layers'"):
        config_from_body({"search_space": {"conv_layer": [1]}}, tmp_path, env_file=None)


def test_api_answers_422(tmp_path):
    from fastapi.testclient import TestClient

    from hpopt.api.app import create_app
    from hpopt.api.settings import ApiSettings

    app = create_app(ApiSettings(results_dir=str(tmp_path), max_concurrent_jobs=0))
    with TestClient(app) as client:
        for space in ("/etc/passwd", {"dropout": {"low": 0.5, "high": 0.1}}):
            response = client.post("/optimize", json={"search_space": space})
            assert response.status_code == 422, response.text
            assert "search_space" in response.text


def test_the_remote_client_sends_the_files_content():
    from hpopt.remote_client.errors import ClientError
    from hpopt.remote_client.jobs import parse_settings

    sent = parse_settings(["trials=3", f"search_space={EXAMPLES / 'search_space_cnn.yaml'}"])
    assert sent["search_space"] == yaml.safe_load((EXAMPLES / "search_space_cnn.yaml").read_text())
    with pytest.raises(ClientError, match="cannot read"):
        parse_settings(["search_space=/nowhere/space.yaml"])


# ----------------------------------------------------------------------------- resume


def test_a_resumed_study_refuses_another_space():
    study = optuna.create_study()
    check_fingerprint(study, load_config({"search_space": {"optimizer": "adam"}}, environ={}, env_file=None))
    check_fingerprint(study, load_config({"search_space": {"optimizer": "adam"}}, environ={}, env_file=None))
    with pytest.raises(StudyMismatchError, match="search_space"):
        check_fingerprint(study, load_config({"search_space": {"optimizer": "sgd"}}, environ={}, env_file=None))


# ----------------------------------------------------------------------------- whole runs


def _check_run(run_dir: Path, execution: str) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_trials"] == 2
    for trial in summary["trials"]:
        assert trial["params"]["optimizer"] == "adam" and trial["params"]["conv_layers"] in (1, 2)
        assert trial["execution"] == execution
    written = yaml.safe_load((run_dir / "search_space.yaml").read_text())
    assert written == summary["search_space"]
    assert written["optimizer"] == "adam" and written["conv_layers"] == [1, 2]
    assert written["filters"] == [16, 32, 64]  # the rest stays built-in
    assert summary["config"]["search_space"] == {"optimizer": "adam", "conv_layers": [1, 2]}
    # tracking=none (the default) writes nothing for TensorBoard or MLflow
    assert not (run_dir / "tensorboard").exists() and not (run_dir.parent / "mlflow.db").exists()


def test_a_local_run_samples_only_the_fixed_values(tmp_path):
    from hpopt.runner import run_optimization

    config = load_config({**RUN, "search_space": _file(tmp_path, FIXED), "results_dir": str(tmp_path / "r"),
                          "run_name": "local", "warm_start": "false"}, environ={}, env_file=None)
    _check_run(run_optimization(config), "local")


def test_an_npz_is_checked_once_its_modality_is_known(tmp_path):
    """An .npz says whether it holds images or token ids only inside: checked when loaded, still exit 2."""
    import numpy as np

    from hpopt.runner import run_optimization

    rng = np.random.default_rng(0)
    data = tmp_path / "images.npz"
    np.savez(data, x_train=rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), y_train=np.arange(60) % 2)
    config = load_config({**RUN, "dataset": str(data), "search_space": {"lstm_units": [32]},
                          "results_dir": str(tmp_path / "r")}, environ={}, env_file=None)
    with pytest.raises(ConfigError, match="lstm_units is not a parameter of the CNN") as error:
        run_optimization(config)
    assert error.value.exit_code == 2


def test_through_the_gpu_worker_the_space_travels_unchanged(tmp_path):
    """Sampling happens client-side into the TrialSpec: the worker trains exactly the fixed values."""
    from hpopt.runner import run_optimization

    with running_worker(tmp_path / "worker") as worker:
        config = load_config({**RUN, "search_space": _file(tmp_path, FIXED), "results_dir": str(tmp_path / "r"),
                              "run_name": "proxy", "use_gpu_proxy": "true", "gpu_proxy_endpoint": worker.url,
                              "gpu_proxy_fallback_local": "false"}, environ={}, env_file=None)
        run_dir = run_optimization(config)
    _check_run(run_dir, "gpu_proxy")
    for number in (0, 1):  # what the worker trained, as the spec it was sent
        spec = json.loads((run_dir / "trials" / f"trial_{number}.json").read_text())["spec"]
        assert spec["architecture"]["optimizer"] == "adam" and spec["architecture"]["conv_layers"] in (1, 2)
