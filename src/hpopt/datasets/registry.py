"""The table of built-in datasets and the cheap name check used by config validation.

Nothing here reads data: config validation imports this module on every CLI call, so it
must stay instant.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from .base import DatasetError, Modality

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CUSTOM_SUFFIXES = (".npz", ".csv", ".tsv", ".txt")
CUSTOM_KINDS = (
    "a folder of class subfolders of images, a Keras-layout .npz "
    "(x_train, y_train[, x_test, y_test]), or a .csv/.tsv/.txt of text and label"
)
FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in dataset is and what files it needs on disk.

    ``files`` is the layout looked for in data_dir / the Keras cache (a trailing "/"
    means a folder); ``archive`` is the publisher's archive accepted in its place.
    ``input_shape`` is the default one (gtsrb follows image_size, text sequence_length).
    """

    name: str
    modality: Modality
    input_shape: tuple[int, ...]
    num_classes: int
    description: str
    files: tuple[str, ...]
    urls: tuple[str, ...] = ()
    archive: str | None = None
    has_test_split: bool = True
    bundled: bool = False

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None


BUILTIN_DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "mnist", "image", (28, 28, 1), 10,
            "MNIST handwritten digits, 60k train / 10k test, 28x28 grayscale",
            files=("mnist.npz",), urls=(KERAS_URL + "mnist.npz",),
        ),
        DatasetInfo(
            "fashion_mnist", "image", (28, 28, 1), 10,
            "Fashion-MNIST clothing images, 60k train / 10k test, 28x28 grayscale",
            files=tuple("fashion-mnist/" + f for f in FASHION_FILES),
            urls=tuple(KERAS_URL + f for f in FASHION_FILES),
        ),
        DatasetInfo(
            "cifar10", "image", (32, 32, 3), 10,
            "CIFAR-10 natural images, 50k train / 10k test, 32x32 RGB",
            files=("cifar-10-batches-py/",), archive="cifar-10-python.tar.gz",
            urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        ),
        DatasetInfo(
            "cifar100", "image", (32, 32, 3), 100,
            "CIFAR-100 natural images (fine labels), 50k train / 10k test, 32x32 RGB",
            files=("cifar-100-python/",), archive="cifar-100-python.tar.gz",
            urls=("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
        ),
        DatasetInfo(
            "gtsrb", "image", (32, 32, 3), 43,
            "German Traffic Sign Recognition Benchmark, official training set "
            "(39,209 images), cropped to the sign and resized (default 32x32 RGB)",
            files=("GTSRB/Final_Training/Images/",), archive="GTSRB_Final_Training_Images.zip",
            urls=(
                "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
                "GTSRB_Final_Training_Images.zip",
            ),
            has_test_split=False,
        ),
        DatasetInfo(
            "imdb", "text", (200,), 2,
            "IMDB movie review sentiment, 25k train / 25k test, Keras word ids",
            files=("imdb.npz",), urls=(KERAS_URL + "imdb.npz",),
        ),
        DatasetInfo(
            "reuters", "text", (200,), 46,
            "Reuters newswire topics, 46 classes, Keras word ids and Keras' 80/20 split",
            files=("reuters.npz",), urls=(KERAS_URL + "reuters.npz",),
        ),
        DatasetInfo(
            "digits", "image", (8, 8, 1), 10,
            "scikit-learn's 8x8 handwritten digits (1,797 images), bundled: works offline",
            files=(), has_test_split=False, bundled=True,
        ),
    )
}


def _normalize(value: str) -> str:
    return value.strip().lower().replace("-", "_")


def builtin_name(value: str) -> str | None:
    """The canonical built-in name for ``value`` ("Fashion-MNIST" -> "fashion_mnist"), or None."""
    key = _normalize(value)
    return key if key in BUILTIN_DATASETS else None


def _bad_name(value: str, reason: str) -> DatasetError:
    valid = ", ".join(BUILTIN_DATASETS)
    close = difflib.get_close_matches(_normalize(value), list(BUILTIN_DATASETS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return DatasetError(
        f"dataset={value!r}: {reason}. Allowed: a built-in dataset ({valid}) or the path "
        f"of {CUSTOM_KINDS}.{hint}"
    )


def looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or Path(text).suffix != ""


def not_found_error(value: str, where: str) -> DatasetError:
    """The message for a name that is neither built in nor a dataset found ``where``."""
    return _bad_name(value, f"no such file or folder {where}" if looks_like_path(value) else "unknown dataset")


def resolve_dataset_name(value: str) -> str:
    """Validate a ``dataset=`` value without loading anything.

    Returns the canonical built-in name, or the absolute path of a custom dataset (so job
    processes started elsewhere find it). Raises DatasetError listing the valid values.
    """
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise _bad_name(str(value), "expected a dataset name or a path")
    text = str(value).strip()
    name = builtin_name(text)
    if name is not None:
        return name
    path = Path(text).expanduser()
    if not path.exists():
        reason = f"no such file or folder {str(path)!r}" if looks_like_path(text) else "unknown dataset"
        raise _bad_name(text, reason)
    if path.is_dir():
        try:
            has_subfolder = any(
                e.is_dir() and not e.name.startswith(".") for e in os.scandir(path)
            )
        except OSError as exc:
            raise _bad_name(text, f"cannot read folder {str(path)!r} ({exc})") from exc
        if not has_subfolder:
            raise _bad_name(text, f"folder {str(path)!r} has no class subfolders")
        return str(path.resolve())
    if path.suffix.lower() not in CUSTOM_SUFFIXES:
        raise _bad_name(
            text, f"file {str(path)!r} has an unsupported extension {path.suffix or '(none)'!r}"
        )
    return str(path.resolve())
