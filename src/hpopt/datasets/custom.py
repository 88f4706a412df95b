"""Custom datasets given as a path: a class-folder of images, a Keras-layout .npz, or a
.csv / .tsv / .txt of text and label.

The modality follows from the kind of file and the array dtype/rank, never from guessing
at image shapes: an .npz whose x_train is 2-D integers is text token ids, 3-D/4-D is
images, a 1-D object array holds token-id lists.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import DatasetError, RawData
from .images import load_image_folder, to_uint8_images
from .registry import CUSTOM_KINDS
from .safe_npz import load_npz

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "sentence", "review", "content", "document", "comment")
LABEL_COLUMNS = ("label", "sentiment", "class", "target", "category", "labels")


def encode_labels(*ys: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Map any labels (ints, integral floats, strings, one-hot rows) to 0..K-1 in sorted order.

    Train and test are encoded together so the same label gets the same id in both.
    """
    flat = []
    for y in ys:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot / probabilities -> class index
            y = y.argmax(axis=1)
        y = y.reshape(len(y)) if y.ndim > 1 and y.size == len(y) else y
        if y.ndim != 1:
            raise DatasetError(f"labels must be one value per sample; got shape {y.shape}")
        if np.issubdtype(y.dtype, np.floating):
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise DatasetError("labels are non-integer floats; expected class ids or names")
            y = y.astype(np.int64)
        flat.append(y)
    classes, inverse = np.unique(np.concatenate(flat), return_inverse=True)
    out, start = [], 0
    for y in flat:
        out.append(inverse[start:start + len(y)].astype(np.int64))
        start += len(y)
    return out, [str(c) for c in classes]


def _read_npz(path: Path) -> RawData:
    arrays = load_npz(path)  # never unpickles: object arrays of int lists are parsed, others refused
    if "x_train" not in arrays or "y_train" not in arrays:
        raise DatasetError(
            f"{path}: a dataset .npz needs arrays x_train and y_train (optionally x_test, "
            f"y_test), as Keras' mnist.npz; found {sorted(arrays)}"
        )
    has_test = "x_test" in arrays or "y_test" in arrays
    if has_test and not ("x_test" in arrays and "y_test" in arrays):
        raise DatasetError(f"{path}: x_test and y_test must come together; found {sorted(arrays)}")
    x, xt = arrays["x_train"], arrays.get("x_test")
    ys = [arrays["y_train"]] + ([arrays["y_test"]] if has_test else [])
    for xx, yy, part in ((x, ys[0], "train"), (xt, ys[-1], "test")):
        if xx is not None and len(xx) != len(yy):
            raise DatasetError(f"{path}: x_{part} has {len(xx)} samples but y_{part} has {len(yy)}")
    (y, *rest), names = encode_labels(*ys)
    yt = rest[0] if rest else None
    if x.dtype == object and x.ndim == 1:
        kind, modality = "sequences", "text"
    elif x.ndim == 2 and np.issubdtype(x.dtype, np.integer):
        kind, modality = "ids", "text"
    elif x.ndim in (3, 4):
        kind, modality = None, "image"
        x = to_uint8_images(x, f"{path} x_train")
        if xt is not None:
            xt = to_uint8_images(xt, f"{path} x_test")
            if xt.shape[1:] != x.shape[1:]:
                raise DatasetError(f"{path}: x_test images {xt.shape[1:]} differ from x_train {x.shape[1:]}")
    else:
        raise DatasetError(
            f"{path}: x_train of shape {x.shape} and dtype {x.dtype} is neither images "
            "((N, H, W) or (N, H, W, C)) nor text token ids ((N, L) integers or an object "
            "array of id lists)"
        )
    if kind == "ids" and xt is not None and (
        xt.ndim != 2 or not np.issubdtype(xt.dtype, np.integer) or xt.shape[1] != x.shape[1]
    ):
        raise DatasetError(f"{path}: x_test must be (N, {x.shape[1]}) integer token ids like x_train")
    return RawData(modality, x, y, xt, yt, names, text_kind=kind)


def _find_column(header: list[str], wanted: Sequence[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(w) for w in wanted if w in lowered), None)


def _read_table(path: Path) -> RawData:
    """Text and label per row; tab-separated (.tsv/.txt, no quoting) or comma (.csv)."""
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [
                (n, r) for n, r in enumerate(csv.reader(fh, delimiter=delimiter, quoting=quoting), 1)
                if any(field.strip() for field in r)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read {path}: {exc} (expected UTF-8 text)") from exc
    sep = "comma" if delimiter == "," else "tab"
    if len(rows) < 2:
        raise DatasetError(f"{path}: found {len(rows)} row(s); expected one text{sep}label row per sample")
    first = rows[0][1]
    text_col = _find_column(first, TEXT_COLUMNS)
    label_col = _find_column(first, LABEL_COLUMNS)
    later_labels = {r[-1].strip() for _, r in rows[1:] if r}
    has_header = (text_col is not None and label_col is not None) or first[-1].strip() not in later_labels
    if has_header:
        rows = rows[1:]
        logger.info("%s: first row taken as a header: %s", path, first)
    if text_col is None or label_col is None or not has_header:
        text_col, label_col = 0, -1
    texts, labels = [], []
    for line, row in rows:
        if len(row) < 2 or len(row) <= max(text_col, label_col):
            raise DatasetError(
                f"{path}, line {line}: expected text and label separated by a {sep}, got {row!r}"
            )
        texts.append(row[text_col])
        labels.append(row[label_col].strip())
    if all(_is_int(v) for v in labels):
        y_raw = np.array([int(v) for v in labels], dtype=np.int64)
    else:
        y_raw = np.array(labels, dtype=str)
    (y,), names = encode_labels(y_raw)
    x = np.empty(len(texts), dtype=object)
    x[:] = texts
    logger.info("%s: %d texts, %d classes %s", path, len(texts), len(names), names[:10])
    return RawData("text", x, y, None, None, names, text_kind="raw")


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def read_custom(path: Path, image_size: int | Sequence[int] | None) -> RawData:
    """Read a custom dataset at ``path`` (already checked to exist by resolve_dataset_name)."""
    if path.is_dir():
        x, y, names = load_image_folder(path, image_size)
        return RawData("image", x, y, None, None, names)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_table(path)
    raise DatasetError(f"dataset path {path}: unsupported kind; expected {CUSTOM_KINDS}")
