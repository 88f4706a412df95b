"""``load_dataset``: any dataset name or path -> a split, encoded, validated Dataset.

Order matters for honesty: split first, then fit anything data-dependent (the text
vocabulary) on the training part only, so validation and test never leak into it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import text
from .base import Dataset, DatasetError, RawData
from .builtin import read_builtin
from .custom import read_custom
from .images import normalize_size, resize_array, to_uint8_images
from .registry import BUILTIN_DATASETS, resolve_dataset_name
from .splits import check_fraction, split_indices

logger = logging.getLogger(__name__)


def _encode_text(
    raw: RawData, parts: list[np.ndarray], sequence_length: int, vocab_size: int, source: str
) -> tuple[list[np.ndarray], int, dict[str, int] | None]:
    """Token ids for (train, val, test) in the package convention, the vocab size, and the
    vocabulary when it was built here (raw text), so predict can encode new text the same way."""
    if raw.text_kind != "raw":
        out, size = _encode_ids(raw, parts, sequence_length, vocab_size, source)
        return out, size, None
    tokens = [[text.tokenize(str(t)) for t in part] for part in parts]
    vocab = text.build_vocabulary(tokens[0], vocab_size)
    encoded = [text.encode(tok, vocab) for tok in tokens]
    longest = max((len(s) for s in encoded[0]), default=1)
    length = max(1, min(sequence_length, longest))
    logger.info("%s: vocabulary %d words, sequence length %d", source, len(vocab), length)
    return [text.pad_sequences(e, length) for e in encoded], len(vocab) + text.FIRST_WORD_ID, vocab


def _encode_ids(
    raw: RawData, parts: list[np.ndarray], sequence_length: int, vocab_size: int, source: str
) -> tuple[list[np.ndarray], int]:
    """Texts that arrive as ids or ranks: padded and capped, no vocabulary built."""
    if raw.text_kind == "ranks":
        out = [text.pad_sequences(text.from_keras_ranks(p, vocab_size), sequence_length) for p in parts]
    elif raw.text_kind == "sequences":
        out = [
            text.pad_sequences([text.cap_ids(np.asarray(s, dtype=np.int64), vocab_size, source) for s in p],
                               sequence_length)
            for p in parts
        ]
    elif raw.text_kind == "ids":  # already padded by the user: keep their layout, cap the ids
        out = [text.cap_ids(np.asarray(p), vocab_size, source) for p in parts]
    else:
        raise DatasetError(f"{source}: unknown text encoding {raw.text_kind!r}")
    return out, text.effective_vocab_size(vocab_size, *out)


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    validation_split: float = 0.2,
    test_size: float = 0.2,
    seed: int = 42,
    sequence_length: int = 200,
    vocab_size: int = 10000,
    image_size: int | Sequence[int] | None = None,
) -> Dataset:
    """Load, split and encode a built-in dataset or a custom path.

    Test: the publisher's test set when there is one, else ``test_size`` held out
    (stratified, seeded). Validation: ``validation_split`` of the rest (stratified,
    seeded); training comes shuffled. Same arguments -> identical arrays. gtsrb is split
    by track (whole tracks of one sign per part), so its fractions hold approximately.
    ``image_size`` (int or (h, w)) resizes images; None keeps the native size (gtsrb and
    mixed-size folders: 32). Text: see hpopt.datasets.text for the id convention.
    """
    check_fraction("validation_split", validation_split)
    check_fraction("test_size", test_size)
    text.check_text_options(sequence_length, vocab_size)
    size = normalize_size(image_size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DatasetError(f"seed={seed!r}: expected an int")
    resolved = resolve_dataset_name(name)
    if resolved in BUILTIN_DATASETS:
        ds_name, raw = resolved, read_builtin(resolved, data_dir, size)
    else:
        ds_name, raw = Path(resolved).stem, read_custom(Path(resolved), size)

    if raw.modality == "image":
        raw.x = to_uint8_images(np.asarray(raw.x), ds_name)
        if raw.x_test is not None:
            raw.x_test = to_uint8_images(np.asarray(raw.x_test), f"{ds_name} test")
    train, val, test = split_indices(
        raw.y, raw.class_names, carve_test=raw.x_test is None, test_size=test_size,
        validation_split=validation_split, seed=int(seed), allow_missing_classes=raw.fixed_classes,
        groups=raw.groups,
    )
    if test is None:
        x_test, y_test = raw.x_test, raw.y_test
    else:
        x_test, y_test = raw.x[test], raw.y[test]
    xs = [raw.x[train], raw.x[val], x_test]
    vocab, words = None, None
    if raw.modality == "image":
        xs = [resize_array(x, size) for x in xs]
    else:
        xs, vocab, words = _encode_text(raw, xs, sequence_length, vocab_size, ds_name)
    assert y_test is not None
    ds = Dataset(
        name=ds_name, modality=raw.modality,
        x_train=xs[0], y_train=raw.y[train].astype(np.int64),
        x_val=xs[1], y_val=raw.y[val].astype(np.int64),
        x_test=xs[2], y_test=np.asarray(y_test, dtype=np.int64),
        class_names=list(raw.class_names), vocab_size=vocab,
        text_kind=raw.text_kind if raw.modality == "text" else None, vocabulary=words,
    )
    logger.info("dataset loaded: %s", ds.summary())
    return ds
