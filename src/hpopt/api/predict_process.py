"""Predictions for the API, in a subprocess: the server never imports TensorFlow (server-light contract).

``python -m hpopt.predict`` (the CLI's predict) runs with the job's run folder, an input written to
a private temporary folder, and a timeout; its exit status says whose fault a failure is (2: the
input, anything else: the server), and its CSV becomes the answer's rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hpopt.jobs.launcher import src_root

logger = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".gif", ".npz", ".txt", ".csv")
MODEL_FORMATS = ("keras", "savedmodel", "tflite", "onnx")


@dataclass
class PredictFailure(Exception):
    """status: the HTTP status to answer (422 bad input, 504 timeout, 500 otherwise); detail: one line."""

    status: int
    detail: str


class PredictionSlots:
    """At most ``limit`` prediction subprocesses at once: each loads TensorFlow (hundreds of MB)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.running = limit, 0

    def take(self) -> bool:
        """One slot, or False when all are busy (the event loop is single-threaded: no lock needed)."""
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running = max(0, self.running - 1)


def upload_suffix(filename: Optional[str]) -> str:
    """The upload's kind from its name; only the suffix is kept (never the name: no path reaches disk)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise PredictFailure(422, f"uploaded file {filename!r}: unsupported kind; expected one of "
                                  f"{', '.join(UPLOAD_SUFFIXES)}")
    return suffix


def texts_csv(texts: list[str]) -> bytes:
    """Texts as a one-column CSV (quoted, so a text may hold newlines); row i is text i."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["text"])
    writer.writerows([t] for t in texts)
    return buffer.getvalue().encode("utf-8")


async def run_predict(run_dir: Path, data: bytes, suffix: str, model: str, timeout_s: float,
                      nice: int = 0) -> list[dict[str, Any]]:
    """Rows of predictions for ``data`` (an upload's bytes, or texts_csv's) with the run's best model."""
    with tempfile.TemporaryDirectory(prefix="hpopt-predict-") as tmp:  # 0700: only the server's user
        folder = Path(tmp)
        source, output = folder / f"input{suffix}", folder / "predictions.csv"
        source.write_bytes(data)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_root()), *filter(None, [os.environ.get(
            "PYTHONPATH")])]), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hpopt.predict", f"run={run_dir}", f"input={source}", f"output={output}",
            f"model={model}", cwd=tmp, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=(lambda: os.nice(nice)) if nice and hasattr(os, "nice") else None)
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise PredictFailure(504, f"prediction took longer than predict_timeout_s={timeout_s:g} s") from None
        error = _error_line(stderr.decode("utf-8", "replace"), str(source))
        if proc.returncode == 2:
            raise PredictFailure(422, error)
        if proc.returncode != 0 or not output.is_file():
            logger.error("predict for %s exited %s: %s", run_dir, proc.returncode, stderr.decode("utf-8", "replace"))
            raise PredictFailure(500, f"prediction failed: {error}")
        with output.open(newline="", encoding="utf-8") as fh:
            return [dict(row, probability=float(row["probability"])) for row in csv.DictReader(fh)]


def _error_line(stderr: str, source: str) -> str:
    """The CLI's one ``error:`` line, with the temporary file's path replaced by "the upload"."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    line = lines[-1][len("error: "):] if lines else (stderr.strip().splitlines() or ["no output"])[-1]
    return line.replace(f"input={source}", "the upload").replace(source, "the upload")
