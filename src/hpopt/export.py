"""``export=savedmodel,tflite``: the best model in shippable formats, each checked after writing.

Each format is written to the run folder's export/ (TF SavedModel for TF Serving, TFLite for
phones), loaded back with the code ``predict`` uses (hpopt.model_formats), and compared with the
Keras model on a probe batch of the test split; the largest absolute difference in class
probabilities is recorded. A format that fails is a warning in the summary, never a failed run.
"""

from __future__ import annotations

import logging
import shutil
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

    LSTMs may need TensorFlow ops beyond TFLite's builtins: tried with builtins first, then with
    SELECT_TF_OPS (the Flex delegate, which TensorFlow's own interpreter includes)."""
    import tensorflow as tf

    def convert(select_ops: bool) -> bytes:
        if savedmodel is not None and savedmodel.is_dir():
            converter = tf.lite.TFLiteConverter.from_saved_model(str(savedmodel))
        else:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if select_ops:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
            converter._experimental_lower_tensor_list_ops = False
        return converter.convert()

    try:
        content = convert(False)
    except Exception as exc:  # noqa: BLE001 - the converter raises many kinds; retry wider, then give up
        logger.info("TFLite conversion with builtin ops failed (%s); retrying with SELECT_TF_OPS", exc)
        content = convert(True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def export_model(model_path: Path, dataset: Any, run_dir: Path, formats: tuple[str, ...]) -> dict[str, Any]:
    """summary.json's ``export``: {format: {path, max_abs_diff}} or {format: {error}} for each format."""
    if not formats:
        return {}
    import keras

    layout = RunLayout(run_dir)
    model = keras.saving.load_model(model_path)
    probe = probe_batch(dataset)
    expected = np.asarray(model.predict(probe, batch_size=PROBE_SIZE, verbose=0), dtype=np.float32)
    layout.export_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for fmt in formats:
        target = layout.model_file(fmt)
        try:
            if fmt == "savedmodel":
                _write_savedmodel(model, target)
            else:
                _write_tflite(model, target, layout.export_savedmodel if "path" in out.get("savedmodel", {}) else None)
            got = predict_with(fmt, target, probe)
            diff = float(np.max(np.abs(got - expected))) if len(probe) else 0.0
            out[fmt] = {"path": target.relative_to(run_dir).as_posix(), "max_abs_diff": diff,
                        "probe_size": len(probe)}
            logger.info("export %s: %s, max abs diff %.3g on %d probe samples", fmt, target, diff, len(probe))
        except Exception as exc:  # noqa: BLE001 - an export failure is a warning, not a failed run
            logger.warning("export %s failed: %s: %s (the run's other results are unaffected)",
                           fmt, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            logger.debug("export %s traceback", fmt, exc_info=True)
            out[fmt] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return out
