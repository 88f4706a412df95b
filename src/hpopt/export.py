"""``export=savedmodel,tflite``: the best model in shippable formats, each checked after writing.

Each format is written to the run folder's export/ (TF SavedModel for TF Serving, TFLite for
phones, ONNX for ONNX Runtime), loaded back with the code ``predict`` uses (hpopt.model_formats),
and compared with the Keras model on a probe batch of the test split; the largest absolute difference in class
probabilities is recorded. A format that fails is a warning in the summary, never a failed run.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from hpopt.layout import RunLayout
from hpopt.model_formats import input_dtype, predict_with

logger = logging.getLogger(__name__)

PROBE_SIZE = 64


def probe_batch(dataset: Any) -> np.ndarray:
    x = dataset.x_test if dataset.x_test is not None and len(dataset.x_test) else dataset.x_val
    return np.asarray(x[:PROBE_SIZE]).astype(input_dtype(dataset.modality))


def _write_savedmodel(model: Any, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    model.export(str(target), format="tf_saved_model", verbose=False)


def _write_tflite(model: Any, target: Path, savedmodel: Optional[Path]) -> None:
    """From the SavedModel when it was written (the path TF recommends), else from the Keras model.

    An LSTM's dynamic loop does not lower to TFLite builtin ops; with a static batch of one it does
    (a tflite model of batch 1, which predict feeds one sample at a time). SELECT_TF_OPS is the last
    resort: it needs the Flex delegate, which TensorFlow's pip interpreter lacks.
    """
    import tensorflow as tf

    def from_saved(path: Path, select_ops: bool = False) -> bytes:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path))
        if select_ops:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
            converter._experimental_lower_tensor_list_ops = False
        return converter.convert()

    with tempfile.TemporaryDirectory(prefix="hpopt-tflite-") as tmp:
        dynamic = savedmodel if savedmodel is not None and savedmodel.is_dir() else Path(tmp) / "dynamic"
        if dynamic != savedmodel:
            model.export(str(dynamic), format="tf_saved_model", verbose=False)
        try:
            content = from_saved(dynamic)
        except Exception as exc:  # noqa: BLE001 - the converter raises many kinds; try a static batch next
            logger.info("TFLite conversion with a dynamic batch failed (%s); converting with batch size 1",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            spec = model.inputs[0]
            static = Path(tmp) / "batch1"
            model.export(str(static), format="tf_saved_model", verbose=False,
                         input_signature=[tf.TensorSpec([1, *spec.shape[1:]], spec.dtype)])
            try:
                content = from_saved(static)
            except Exception:  # noqa: BLE001
                content = from_saved(dynamic, select_ops=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _write_onnx(model: Any, target: Path, probe: np.ndarray) -> None:
    """Keras 3's own ONNX export (tf2onnx underneath on the TensorFlow backend); it needs a model
    that has been called once, which a model fresh from load_model has not."""
    model.predict(probe[:1], verbose=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(target), format="onnx", verbose=False)


def float32_model(model: Any) -> Any:
    """The same weights computing in float32: a model trained with mixed_float16 (GPU runs) has
    float16 ops that TFLite's builtins and ONNX Runtime's rewriters refuse, and that CPUs run slowly.
    Its variables are float32 already, so only the layers' dtype policies change."""
    policies = {getattr(getattr(layer, "dtype_policy", None), "name", "float32") for layer in model.layers}
    if policies <= {"float32"}:
        return model

    def to_float32(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("class_name", "")).endswith("DTypePolicy") and isinstance(node.get("config"), dict):
                node["config"]["name"] = "float32"
            for value in node.values():
                to_float32(value)
        elif isinstance(node, list):
            for value in node:
                to_float32(value)

    config = model.get_config()
    to_float32(config)
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    logger.info("export: %s computes in %s; exporting a float32 copy", model.name, ", ".join(sorted(policies)))
    return clone


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def export_model(model_path: Path, dataset: Any, run_dir: Path, formats: tuple[str, ...]) -> dict[str, Any]:
    """summary.json's ``export``: {format: {path, max_abs_diff}} or {format: {error}} for each format."""
    if not formats:
        return {}
    import keras

    layout = RunLayout(run_dir)
    model = keras.saving.load_model(model_path)
    probe = probe_batch(dataset)
    expected = np.asarray(model.predict(probe, batch_size=PROBE_SIZE, verbose=0), dtype=np.float32)
    model = float32_model(model)
    layout.export_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for fmt in formats:
        target = layout.model_file(fmt)
        started = time.perf_counter()
        try:
            if fmt == "savedmodel":
                _write_savedmodel(model, target)
            elif fmt == "onnx":
                _write_onnx(model, target, probe)
            else:
                _write_tflite(model, target, layout.export_savedmodel if "path" in out.get("savedmodel", {}) else None)
            got = predict_with(fmt, target, probe)
            diff = float(np.max(np.abs(got - expected))) if len(probe) else 0.0
            out[fmt] = {"path": target.relative_to(run_dir).as_posix(), "max_abs_diff": diff,
                        "probe_size": len(probe), "bytes": _size(target),
                        "seconds": round(time.perf_counter() - started, 2)}
            logger.info("export %s: %s, max abs diff %.3g on %d probe samples", fmt, target, diff, len(probe))
        except Exception as exc:  # noqa: BLE001 - an export failure is a warning, not a failed run
            logger.warning("export %s failed: %s: %s (the run's other results are unaffected)",
                           fmt, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            logger.debug("export %s traceback", fmt, exc_info=True)
            out[fmt] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return out
