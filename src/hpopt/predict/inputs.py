"""What ``predict`` reads: an image folder or file, a Keras-layout .npz, or a .txt / .csv of texts.

Everything is turned into the run's model inputs here (numpy and PIL only), so a wrong kind of
data, an empty file or an unreadable image is a one-line error before TensorFlow loads.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from hpopt.datasets import preprocessing
from hpopt.datasets.base import DatasetError
from hpopt.datasets.custom import TEXT_COLUMNS
from hpopt.datasets.images import IMAGE_SUFFIXES, resize_image
from hpopt.datasets.safe_npz import load_npz

logger = logging.getLogger(__name__)
DARK_MAX = 16  # brightest pixel at or below this: a 0..16 scale read as 0..255

TEXT_SUFFIXES = (".txt", ".csv")
NPZ_KEYS = ("x_test", "x")
SUPPORTED = (f"an image folder, an image file ({', '.join(IMAGE_SUFFIXES)}), a .npz (x_test or x), "
             "or a .txt/.csv of texts")


class PredictInputError(DatasetError):
    """The input cannot be predicted on with this run; the message says why and what would work."""

    exit_code = 2


@dataclass(frozen=True)
class Batch:
    """Model-ready inputs and one id per row (a file's path in the folder, or the row index)."""

    x: np.ndarray
    ids: list[str]


def read_input(path: Path, spec: dict[str, Any]) -> Batch:
    """``path`` -> the run's model inputs, checked against the run's kind (image or text)."""
    if not path.exists():
        raise PredictInputError(f"input={path}: no such file or folder")
    kind = spec["kind"]
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in IMAGE_SUFFIXES:
        if kind != "image":
            raise PredictInputError(f"input={path}: images given, but this run classifies text; give a .txt/.csv "
                                    "of texts or a .npz of token ids")
        batch = _images(path, spec)
    elif suffix == ".npz":
        batch = _npz(path, spec)
    elif suffix in TEXT_SUFFIXES:
        if kind != "text":
            raise PredictInputError(f"input={path}: texts given, but this run classifies images "
                                    f"({spec['height']}x{spec['width']}x{spec['channels']}); give images or a .npz")
        texts, ids = _texts(path)
        batch = Batch(preprocessing.encode_texts(texts, spec, str(path)), ids)
    else:
        raise PredictInputError(f"input={path}: unsupported kind {suffix or '(no extension)'!r}; expected {SUPPORTED}")
    if not len(batch.ids):
        raise PredictInputError(f"input={path}: empty, nothing to predict")
    return batch


def _image_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


def _images(path: Path, spec: dict[str, Any]) -> Batch:
    """Each image converted to the run's color mode and resized, exactly as the folder loader does."""
    files = _image_files(path)
    height, width, channels = int(spec["height"]), int(spec["width"]), int(spec["channels"])
    x = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                pixels = np.asarray(resize_image(img.convert(spec.get("color_mode", "L" if channels == 1 else "RGB")),
                                                 (height, width)))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            raise PredictInputError(f"cannot read image {f}: {exc}") from None
        x[i] = pixels.reshape(height, width, channels)
    ids = [f.name if path.is_file() else f.relative_to(path).as_posix() for f in files]
    logger.info("%s: %d images -> %s", path, len(files), x.shape[1:])
    return Batch(x, ids)


def _npz(path: Path, spec: dict[str, Any]) -> Batch:
    arrays = load_npz(path, NPZ_KEYS)
    key = next((k for k in NPZ_KEYS if k in arrays), None)
    if key is None:
        raise PredictInputError(f"input={path}: a .npz needs an array x_test or x (Keras layout)")
    x = arrays[key]
    if spec["kind"] == "image":
        if x.dtype == object or x.ndim not in (3, 4):
            raise PredictInputError(f"input={path}: {key} of shape {x.shape} is not images ((N, H, W) or "
                                    "(N, H, W, C)); this run classifies images")
        batch = preprocessing.image_batch(x, spec, f"{path} {key}")
        _warn_if_dark(batch, f"{path} {key}")
    else:
        batch = preprocessing.id_batch(x, spec, f"{path} {key}")
    return Batch(batch, [str(i) for i in range(len(batch))])


def _warn_if_dark(batch: np.ndarray, source: str) -> None:
    """Pixels read as 0..255 that never pass DARK_MAX are almost surely on another scale (e.g.
    scikit-learn's digits, 0..16): the model would see near-black images, so say so."""
    brightest = int(batch.max()) if batch.size else 0
    if 0 < brightest <= DARK_MAX:
        logger.warning("warning: %s: pixel values reach only %d, read as 0..255 (near-black images); "
                       "if they are on another scale (scikit-learn's digits: 0..16), scale them to 0..255 "
                       "or to floats in 0..1", source, brightest)


def _texts(path: Path) -> tuple[list[str], list[str]]:
    """.txt: one text per line (a tab and what follows, e.g. a label, is ignored, so a training file
    works too). .csv: the text column by name (text, sentence, review, ...), else the first column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            if path.suffix.lower() == ".txt":
                rows = [line.rstrip("\r\n").split("\t", 1)[0] for line in fh]
            else:
                table = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
                column = 0
                if table:
                    header = [h.strip().lower() for h in table[0]]
                    found = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
                    if found is not None:
                        column, table = found, table[1:]
                rows = [r[column] if len(r) > column else "" for r in table]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PredictInputError(f"cannot read {path}: {exc} (expected UTF-8 text)") from None
    kept = [(i, t) for i, t in enumerate(rows) if t.strip()]
    return [t for _, t in kept], [str(i) for i, _ in kept]
