"""Running a model in each format a run can ship: Keras (.keras), TF SavedModel, TFLite, ONNX.

One place for loading and batched inference, so ``export`` checks a format with the very code
``predict`` later uses. Imports TensorFlow: never import it from the API server.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

ModelFormat = Literal["keras", "savedmodel", "tflite", "onnx"]
FORMATS: tuple[str, ...] = ("keras", "savedmodel", "tflite", "onnx")
BATCH = 256


def input_dtype(kind: str) -> type:
    """Images enter as float32 pixels in 0..255 (the model rescales), texts as int32 ids."""
    return np.float32 if kind == "image" else np.int32


def predict_keras(path: Path, x: np.ndarray) -> np.ndarray:
    import keras

    model = keras.saving.load_model(path)
    return np.asarray(model.predict(x, batch_size=BATCH, verbose=0), dtype=np.float32)


def predict_savedmodel(path: Path, x: np.ndarray) -> np.ndarray:
    """The ``serve`` endpoint Keras 3's model.export() writes."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.serve if hasattr(loaded, "serve") else loaded.signatures["serving_default"]
    parts = [np.asarray(_first(serve(tf.constant(x[i:i + BATCH])))) for i in range(0, len(x), BATCH)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)


def _first(out: object) -> object:
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out


def _interpreter(path: Path):  # type: ignore[no-untyped-def]
    """LiteRT's interpreter when installed (TF's own is deprecated), else tf.lite's."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - a class
    with warnings.catch_warnings():  # TF's "use LiteRT" deprecation notice: said once in the README instead
        warnings.simplefilter("ignore", UserWarning)
        return Interpreter(model_path=str(path))


def predict_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    """Batched when the converted model takes a dynamic batch, one sample at a time otherwise."""
    interpreter = _interpreter(path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    x = x.astype(inp["dtype"], copy=False)
    results = []
    step = BATCH if int(inp.get("shape_signature", inp["shape"])[0]) == -1 else 1
    current = None
    for i in range(0, len(x), step):
        chunk = x[i:i + step]
        if current != len(chunk):
            interpreter.resize_tensor_input(inp["index"], [len(chunk), *x.shape[1:]])
            interpreter.allocate_tensors()
            current = len(chunk)
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        results.append(np.array(interpreter.get_tensor(out["index"])))
    return np.concatenate(results).astype(np.float32) if results else np.zeros((0, 0), np.float32)


def predict_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    """ONNX Runtime on the CPU (the exported graph keeps a dynamic batch)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    parts = [session.run(None, {name: x[i:i + BATCH]})[0] for i in range(0, len(x), BATCH)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 0), np.float32)


def predict_with(fmt: str, path: Path, x: np.ndarray) -> np.ndarray:
    """Class probabilities (N, classes) from the model at ``path`` in format ``fmt``."""
    runner = {"keras": predict_keras, "savedmodel": predict_savedmodel, "tflite": predict_tflite,
              "onnx": predict_onnx}[fmt]
    return runner(path, x)
