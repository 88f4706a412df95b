"""The loaded-dataset container and the errors every loader raises.

A ``Dataset`` is what ``run_trial`` consumes: ready-to-fit arrays, already split, with
no framework objects in it, so it pickles cheaply into job processes and never pulls
TensorFlow in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Modality = Literal["image", "text"]


class DatasetError(ValueError):
    """A dataset name, path, file or option is wrong; the message says what and how to fix it."""


class DatasetUnavailableError(DatasetError):
    """A built-in dataset is not on disk and could not be downloaded.

    The message names the exact file or folder and the folders it is looked for in, so a
    user on an offline machine knows what to copy where.
    """


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset split into train / validation / test.

    Images: uint8 ``(N, H, W, C)`` in 0..255 (models do the scaling). Text: int32
    ``(N, sequence_length)`` token ids, 0 = padding, 1 = out-of-vocabulary, every id
    ``< vocab_size``. Labels: int64 in ``0..num_classes-1``. The test part is returned
    for the final report only; selection uses validation.
    """

    name: str
    modality: Modality
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)
    vocab_size: int | None = None
    # How raw inputs became these arrays, for predicting on new data (preprocessing.json):
    # text_kind as in RawData; vocabulary (word -> id) only for raw text tokenized here.
    text_kind: str | None = None
    vocabulary: dict[str, int] | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-ready facts about the dataset (for logs, summary.json and the API)."""
        return {
            "name": self.name,
            "modality": self.modality,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "n_train": int(len(self.y_train)),
            "n_val": int(len(self.y_val)),
            "n_test": int(len(self.y_test)),
            "vocab_size": self.vocab_size,
        }


@dataclass
class RawData:
    """What a reader found, before splitting and encoding (internal to the package).

    ``x`` / ``y`` is the training pool; ``x_test`` / ``y_test`` the publisher's test set
    or None. Labels are int64 in 0..len(class_names)-1. ``text_kind`` says how to turn
    text into ids: "ranks" (Keras imdb/reuters word ranks), "ids" (already ids, padded
    2-D), "sequences" (id lists of any length), "raw" (strings to tokenize).
    """

    modality: Modality
    x: Any
    y: np.ndarray
    x_test: Any
    y_test: np.ndarray | None
    class_names: list[str]
    text_kind: Literal["ranks", "ids", "sequences", "raw"] | None = None
    fixed_classes: bool = False  # built-in label set: classes absent from a subset are allowed
    # One id per sample of ``x``; samples sharing one (GTSRB: frames of one track) are never
    # split across train / validation / test.
    groups: np.ndarray | None = None
