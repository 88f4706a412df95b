"""``python src/optimizer.py predict run=<run folder> input=<path> [output=...] [model=...]``.

Every check that needs no model (the run folder, its preprocessing.json and model file, the
input's kind and contents) runs before TensorFlow is imported, so mistakes answer at once with
one line and exit status 2; ``--help`` never imports TensorFlow.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from pathlib import Path
from typing import Optional

from hpopt.datasets import preprocessing
from hpopt.datasets.base import DatasetError
from hpopt.layout import RunLayout
from hpopt.masking import mask_text
from hpopt.native_stderr import NativeStderrFilter

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MODEL_FORMATS = ("keras", "savedmodel", "tflite", "onnx")
KEYS = {
    "run": "the run folder (<results_dir>/<run_name>) whose best model predicts",
    "input": "an image folder (searched recursively), one image file, a Keras-layout .npz (x_test or x), "
             "or a .txt (one text per line) / .csv (a text column) of texts",
    "output": "CSV to write: id, predicted_class, probability, top3 (default predictions.csv)",
    "model": "keras (best_model.keras, default), savedmodel (export/savedmodel), tflite (export/model.tflite) or "
             "onnx (export/model.onnx); all but keras need a run with export=",
}
HELP = "usage: python src/optimizer.py predict run=<run folder> input=<path> [output=predictions.csv] " \
       "[model=keras|savedmodel|tflite|onnx]\n\nRuns the best model of a finished run on new data, with the " \
       "run's own preprocessing (preprocessing.json: image size and channels, text vocabulary and length).\n\n" + \
       "\n".join(f"  {k:<7} {v}" for k, v in KEYS.items())

logger = logging.getLogger("hpopt.predict")


class UsageError(ValueError):
    exit_code = EXIT_USAGE


def parse(argv: list[str]) -> dict[str, str]:
    """key=value arguments -> dict; unknown keys name the closest known one."""
    values: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.strip().lower()
        if not sep:
            raise UsageError(f"argument {arg!r} is not key=value; keys: {', '.join(KEYS)}")
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown key {key!r}{hint}; predict keys: {', '.join(KEYS)}")
        values[key] = value.strip()
    for required in ("run", "input"):
        if not values.get(required):
            raise UsageError(f"{required}= is required: {KEYS[required]}")
    values.setdefault("output", "predictions.csv")
    values.setdefault("model", "keras")
    values["model"] = values["model"].lower()
    if values["model"] not in MODEL_FORMATS:
        raise UsageError(f"model={values['model']!r} is not valid: allowed {', '.join(MODEL_FORMATS)}")
    return values


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(HELP, flush=True)
        return EXIT_OK
    try:
        values = parse(argv)
        layout = RunLayout(Path(values["run"]).expanduser())
        model_path = _check_run(layout, values["model"])
        spec = preprocessing.read(layout.run_dir)
        from hpopt.predict.inputs import read_input

        batch = read_input(Path(values["input"]).expanduser(), spec)
    except (UsageError, DatasetError) as exc:
        return _error(str(exc), EXIT_USAGE)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from hpopt.predict import runner  # TensorFlow loads here, once the input is known to be good

        with NativeStderrFilter():  # TensorFlow's absl/oneDNN start-up lines stay off the terminal
            table = runner.predict(model_path, values["model"], batch, spec)
        output = Path(values["output"]).expanduser()
        runner.write_csv(output, table)
    except Exception as exc:  # noqa: BLE001 - one line for the terminal, the traceback in the log
        logger.debug("predict failed", exc_info=True)
        return _error(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    print(runner.summary_line(table, values["model"], model_path), flush=True)
    print(f"predictions: {output.resolve()}", flush=True)
    return EXIT_OK


def _check_run(layout: RunLayout, fmt: str) -> Path:
    if not layout.run_dir.is_dir():
        raise UsageError(f"run={layout.run_dir}: no such run folder (give <results_dir>/<run_name>)")
    if not layout.best_model.is_file():
        raise UsageError(f"run={layout.run_dir}: no best_model.keras (the run saved no model: no trial "
                         "completed, or save_best_model=false)")
    path = layout.model_file(fmt)
    if not path.exists():
        raise UsageError(f"model={fmt}: {path} does not exist; run the search with export={fmt} to write it")
    return path


def _error(message: str, code: int) -> int:
    print(f"error: {mask_text(message)}", file=sys.stderr, flush=True)
    return code
