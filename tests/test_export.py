"""export=savedmodel,tflite(,onnx): every format written, each reloaded and matching the Keras model within 1e-4."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from hpopt.cli import main
from hpopt.config import ConfigError, load_config
from hpopt.model_formats import predict_onnx, predict_savedmodel, predict_tflite
from hpopt.runner import run_optimization

QUICK = {"min_epochs_per_trial": "1", "max_epochs_per_trial": "1", "trials": "1", "plot_generation": "none",
         "warm_start": "false", "n_startup_trials": "1", "n_warmup_steps": "0", "min_steps_per_epoch": "0",
         "stop_no_learning": "false", "dataset": "digits"}


def _config(tmp, **settings):
    return load_config({"results_dir": str(tmp / "results"), **QUICK, **settings}, environ={}, env_file=None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    run_dir = run_optimization(_config(tmp, run_name="exp", export="tflite, SavedModel,onnx"))
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def test_both_formats_are_written_and_recorded(exported):
    run_dir, summary = exported
    assert summary["config"]["export"] == "savedmodel,tflite,onnx"
    assert (run_dir / "export" / "savedmodel" / "saved_model.pb").is_file()
    assert (run_dir / "export" / "model.tflite").stat().st_size > 0
    assert (run_dir / "export" / "model.onnx").stat().st_size > 0
    section = summary["export"]
    assert section["savedmodel"]["path"] == "export/savedmodel" and section["tflite"]["path"] == "export/model.tflite"
    assert section["onnx"]["path"] == "export/model.onnx"
    for fmt in ("savedmodel", "tflite", "onnx"):
        assert 0 <= section[fmt]["max_abs_diff"] <= 1e-4, section
        assert section[fmt]["probe_size"] > 0 and section[fmt]["bytes"] > 0 and section[fmt]["seconds"] > 0
    report = (run_dir / "report.md").read_text()
    assert "## Exported model" in report and "export/model.tflite" in report


def test_each_format_reloads_and_matches_keras(exported, digits):
    run_dir, _ = exported
    x = digits.x_test[:100].astype(np.float32)
    expected = keras.saving.load_model(run_dir / "best_model.keras").predict(x, verbose=0)
    paths = {predict_savedmodel: "export/savedmodel", predict_tflite: "export/model.tflite",
             predict_onnx: "export/model.onnx"}
    for load, relative in paths.items():
        path = run_dir / relative
        got = load(path, x)
        assert got.shape == expected.shape
        assert float(np.max(np.abs(got - expected))) <= 1e-4, load.__name__


def test_predict_uses_the_exported_formats(exported, digits, tmp_path, capsys):
    run_dir, _ = exported
    np.savez(tmp_path / "x.npz", x=digits.x_test[:20])
    outputs = {}
    for fmt in ("keras", "savedmodel", "tflite", "onnx"):
        out = tmp_path / f"{fmt}.csv"
        assert main(["predict", f"run={run_dir}", f"input={tmp_path / 'x.npz'}", f"output={out}",
                     f"model={fmt}"]) == 0, capsys.readouterr().err
        assert f"({fmt})" in capsys.readouterr().out
        outputs[fmt] = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
    assert outputs["savedmodel"] == outputs["keras"] == outputs["tflite"] == outputs["onnx"]


def test_export_is_validated_and_none_by_default(tmp_path):
    assert _config(tmp_path).export == "none"
    assert _config(tmp_path, export="savedmodel").export == "savedmodel"
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, export="savedmodel,h5")
    message = str(err.value)
    assert "export" in message and "h5" in message and "savedmodel,tflite" in message and "\n" not in message


def test_without_export_no_folder_is_written(tmp_path):
    run_dir = run_optimization(_config(tmp_path, run_name="plain"))
    assert not (run_dir / "export").exists()
    assert "export" not in json.loads((run_dir / "summary.json").read_text())


def test_mixed_precision_models_export_as_float32(tmp_path, digits):
    """GPU runs train with mixed_float16; TFLite's builtins refuse its float16 ops, so export uses a float32 copy."""
    from types import SimpleNamespace

    from hpopt.export import export_model, float32_model

    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input(shape=digits.input_shape)
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255.0)(inputs))
        outputs = keras.layers.Dense(10, activation="softmax", dtype="float32")(keras.layers.Dense(16)(x))
        model = keras.Model(inputs, outputs)
    finally:
        keras.config.set_dtype_policy("float32")
    assert "mixed_float16" in {layer.dtype_policy.name for layer in model.layers}
    assert {layer.dtype_policy.name for layer in float32_model(model).layers} == {"float32"}
    model.save(tmp_path / "best_model.keras")
    data = SimpleNamespace(x_test=digits.x_test, x_val=digits.x_val, modality="image")
    section = export_model(tmp_path / "best_model.keras", data, tmp_path, ("savedmodel", "tflite", "onnx"))
    for fmt in ("savedmodel", "tflite", "onnx"):
        assert "error" not in section[fmt], section
        assert section[fmt]["max_abs_diff"] < 1e-2  # float16 arithmetic against float32
