"""preprocessing.json: how a run's inputs were turned into model inputs, so new data gets the same.

Written with every run (hpopt.results) from the loaded Dataset and read by ``predict``. Images
are uint8 (H, W, C) in 0..255 (the model scales them itself); new images are converted to the
run's channels (PIL "L" or "RGB") and resized bilinearly to its size, as the folder loader does.
Texts are lowercased and split into words by hpopt.datasets.text.tokenize, mapped through the
training vocabulary (unknown words -> 1), and pre-padded / end-truncated to the sequence length.
Light on purpose: numpy and PIL only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import text
from .base import Dataset, DatasetError
from .images import resize_array, to_uint8_images

PREPROCESSING_FILE = "preprocessing.json"  # RunLayout.preprocessing
FORMAT_VERSION = 1


def describe(data: Dataset) -> dict[str, Any]:
    """The JSON-ready preprocessing of ``data`` (class names in label order)."""
    base: dict[str, Any] = {"format_version": FORMAT_VERSION, "kind": data.modality, "dataset": data.name,
                            "class_names": list(data.class_names)}
    if data.modality == "image":
        _, height, width, channels = data.x_train.shape
        return {**base, "height": int(height), "width": int(width), "channels": int(channels),
                "color_mode": "L" if channels == 1 else "RGB", "dtype": "uint8", "scaling": "none (0..255; "
                "the model's Rescaling(1/255) layer scales)", "resize": "bilinear"}
    return {**base, "sequence_length": int(data.x_train.shape[1]), "vocab_size": data.vocab_size,
            "text_kind": data.text_kind, "lowercase": True, "tokenizer": "hpopt.datasets.text.tokenize",
            "padding": "pre", "truncating": "post", "pad_id": text.PAD_ID, "oov_id": text.OOV_ID,
            "vocabulary": data.vocabulary}


def write(run_dir: Path, data: Dataset) -> Path:
    path = Path(run_dir) / PREPROCESSING_FILE
    path.write_text(json.dumps(describe(data), indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / PREPROCESSING_FILE
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: this run predates preprocessing.json; run the search again "
                           "to predict with it") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if not isinstance(spec, dict) or spec.get("kind") not in ("image", "text"):
        raise DatasetError(f"{path}: not an hpopt preprocessing file (kind must be image or text)")
    return spec


def image_batch(x: np.ndarray, spec: dict[str, Any], source: str) -> np.ndarray:
    """Any image array -> the run's uint8 (N, H, W, C): scaled to 0..255, channels converted, resized."""
    x = to_uint8_images(np.asarray(x), source)
    want = int(spec["channels"])
    if x.shape[-1] != want:  # PIL's conversion, as the folder loader's convert("L" / "RGB")
        mode = "L" if want == 1 else "RGB"
        x = np.stack([np.asarray(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).convert(mode))
                      .reshape(img.shape[0], img.shape[1], want) for img in x]) if len(x) else \
            np.zeros((0, *x.shape[1:3], want), dtype=np.uint8)
    return resize_array(x, (int(spec["height"]), int(spec["width"])))


def encode_texts(texts: Sequence[str], spec: dict[str, Any], source: str) -> np.ndarray:
    """Raw texts -> int32 (N, sequence_length) ids, exactly as the loader encoded the training texts."""
    vocab = spec.get("vocabulary")
    if not vocab:
        raise DatasetError(
            f"{source}: this run's texts came as token ids ({spec.get('text_kind')}, dataset "
            f"{spec.get('dataset')!r}), so it has no vocabulary for raw text; give a .npz of token ids (x)")
    tokens = [text.tokenize(str(t)) for t in texts]
    return text.pad_sequences(text.encode(tokens, vocab), int(spec["sequence_length"]))


def id_batch(x: np.ndarray, spec: dict[str, Any], source: str) -> np.ndarray:
    """Token ids from an .npz (2-D ints or an object array of id lists) -> the run's (N, L) ids."""
    length, vocab_size = int(spec["sequence_length"]), int(spec["vocab_size"])
    if x.dtype == object and x.ndim == 1:
        seqs = [text.cap_ids(np.asarray(s, dtype=np.int64), vocab_size, source) for s in x]
        return text.pad_sequences(seqs, length)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise DatasetError(f"{source}: a text run needs token ids, (N, L) integers; got shape {x.shape} "
                           f"dtype {x.dtype}")
    x = text.cap_ids(x, vocab_size, source)
    if x.shape[1] == length:  # the run's own layout (as its .npz had it): kept
        return x
    return text.pad_sequences([row[np.argmax(row != text.PAD_ID):] if row.any() else row[:0] for row in x], length)
