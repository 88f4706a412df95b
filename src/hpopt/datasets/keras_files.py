"""Readers for the built-in files exactly as Keras caches them (no Keras import).

Each returns the publisher's split: (x_train, y_train, x_test, y_test). Text readers
return object arrays of raw word-rank lists (rank 1 = most frequent word); the id
convention is applied later in text.py.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from .base import DatasetError
from .safe_npz import PickledDataError, load_npz, npz_names

Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

REUTERS_SEED = 113
REUTERS_TEST_SPLIT = 0.2


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays; never unpickles (object arrays of int lists are parsed, see safe_npz)."""
    try:
        arrays = load_npz(path, keys)
    except PickledDataError:
        raise
    except DatasetError as exc:
        raise DatasetError(f"{exc}. Delete it to download it again.") from exc
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DatasetError(f"{path}: missing array(s) {missing}; found {npz_names(path)}, expected {list(keys)}")
    return arrays


def read_mnist(path: Path) -> Split:
    d = _load_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    return d["x_train"], d["y_train"], d["x_test"], d["y_test"]


def read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (big-endian: magic, dims, then uint8 data)."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {dims} but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims).copy()


def read_fashion(folder: Path) -> Split:
    return (
        read_idx(folder / "train-images-idx3-ubyte.gz"),
        read_idx(folder / "train-labels-idx1-ubyte.gz"),
        read_idx(folder / "t10k-images-idx3-ubyte.gz"),
        read_idx(folder / "t10k-labels-idx1-ubyte.gz"),
    )


class _CifarUnpickler(pickle.Unpickler):
    """Unpickle only what CIFAR batches hold (dicts, lists, numpy arrays), never code."""

    _ALLOWED = {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")),
        *((m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return _CifarUnpickler(fh, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DatasetError(f"cannot read CIFAR batch {path}: {exc}") from exc


def _cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    if b"data" not in d or label_key not in d:
        raise DatasetError(f"{path}: expected keys b'data' and {label_key!r}, got {list(d)}")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: data must be (N, 3072), got {data.shape}")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-first rows -> HWC
    return np.ascontiguousarray(x), np.asarray(d[label_key], dtype=np.int64)


def read_cifar10(folder: Path) -> Split:
    parts = [_cifar_batch(folder / f"data_batch_{i}", b"labels") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(folder / "test_batch", b"labels")
    return (
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
        x_test, y_test,
    )


def read_cifar100(folder: Path) -> Split:
    x_train, y_train = _cifar_batch(folder / "train", b"fine_labels")
    x_test, y_test = _cifar_batch(folder / "test", b"fine_labels")
    return x_train, y_train, x_test, y_test


def cifar100_label_names(folder: Path) -> list[str] | None:
    """Fine label names from the archive's ``meta`` file, when it is there."""
    meta = folder / "meta"
    if not meta.is_file():
        return None
    names = _unpickle(meta).get(b"fine_label_names")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None


def read_imdb(path: Path) -> Split:
    d = _load_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    return d["x_train"], d["y_train"], d["x_test"], d["y_test"]


def read_reuters(path: Path) -> Split:
    """Keras' split: shuffle with RandomState(113), the last 20% is the test set."""
    d = _load_npz(path, ("x", "y"))
    xs, labels = d["x"], d["y"]
    indices = np.arange(len(xs))
    np.random.RandomState(REUTERS_SEED).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    idx = int(len(xs) * (1 - REUTERS_TEST_SPLIT))
    return xs[:idx], labels[:idx], xs[idx:], labels[idx:]
