"""Tokenizing, vocabulary capping and padding for the text datasets.

One id convention for every text source: 0 = padding, 1 = out-of-vocabulary, words from
2 up, most frequent first, every id < vocab_size. So an Embedding(vocab_size, ...) with
mask_zero=True fits any text dataset. Sequences are padded at the START with zeros
("pre" padding, Keras' default, so the last LSTM step sees real tokens) and truncated at
the END: the first ``sequence_length`` tokens are kept. No text is ever dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .base import DatasetError

PAD_ID = 0
OOV_ID = 1
FIRST_WORD_ID = 2
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # unicode letters/digits, inner apostrophes kept


def check_text_options(sequence_length: int, vocab_size: int) -> None:
    """Refuse lengths and vocabularies that cannot hold one word."""
    if not isinstance(sequence_length, (int, np.integer)) or isinstance(sequence_length, bool) or sequence_length < 1:
        raise DatasetError(f"sequence_length={sequence_length!r}: expected an int >= 1")
    if not isinstance(vocab_size, (int, np.integer)) or isinstance(vocab_size, bool) or vocab_size < FIRST_WORD_ID + 1:
        raise DatasetError(
            f"vocab_size={vocab_size!r}: expected an int >= 3 (0 = padding, 1 = unknown word, "
            "then the words)"
        )


MIN_WORD_COUNT = 2  # a word seen once in training has no embedding worth learning: it is unknown
MIN_VOCABULARY = 20


def tokenize(text: str) -> list[str]:
    """Lowercase words: runs of letters/digits, apostrophes inside a word kept ("don't")."""
    return _TOKEN.findall(text.lower())


def build_vocabulary(token_lists: Iterable[Sequence[str]], vocab_size: int) -> dict[str, int]:
    """Word -> id for the ``vocab_size - 2`` most frequent words (ties: alphabetical).

    Words seen only once in training map to the unknown id (unless that would leave
    fewer than MIN_VOCABULARY words): on small corpora this measurably helps validation
    accuracy, as one-off words only let the embedding memorize.

    Built from the training split only, so validation and test words the model never
    trained on map to the unknown id, as they would in use.
    """
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    repeated = [(w, c) for w, c in ranked if c >= MIN_WORD_COUNT]
    if len(repeated) >= MIN_VOCABULARY:  # a tiny corpus keeps its one-off words rather than none
        ranked = repeated
    ranked = ranked[: vocab_size - FIRST_WORD_ID]
    return {word: i + FIRST_WORD_ID for i, (word, _) in enumerate(ranked)}


def encode(token_lists: Iterable[Sequence[str]], vocab: dict[str, int]) -> list[list[int]]:
    return [[vocab.get(t, OOV_ID) for t in tokens] for tokens in token_lists]


def pad_sequences(sequences: Iterable[Sequence[int]], length: int) -> np.ndarray:
    """int32 (N, length): first ``length`` tokens kept, zeros padded in front."""
    seqs = list(sequences)
    out = np.zeros((len(seqs), length), dtype=np.int32)
    for i, seq in enumerate(seqs):
        kept = np.asarray(seq, dtype=np.int64)[:length]
        if len(kept):
            out[i, length - len(kept):] = kept
    return out


def from_keras_ranks(sequences: Iterable[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    """Keras imdb/reuters files hold word ranks (1 = most frequent): rank r -> id r + 1.

    This replaces Keras' own start_char=1 / oov_char=2 / index_from=3 shift with the
    convention above (no start marker), so id 1 is only ever "unknown word".
    """
    out = []
    for seq in sequences:
        ids = np.asarray(seq, dtype=np.int64) + 1
        ids[(ids >= vocab_size) | (ids < FIRST_WORD_ID)] = OOV_ID
        out.append(ids)
    return out


def cap_ids(x: np.ndarray, vocab_size: int, source: str) -> np.ndarray:
    """Token ids already in the convention: ids >= vocab_size become the unknown id."""
    if x.size and int(x.min()) < 0:
        raise DatasetError(f"{source}: token ids must be >= 0 (0 = padding), found {int(x.min())}")
    x = x.astype(np.int32, copy=True)
    x[x >= vocab_size] = OOV_ID
    return x


def effective_vocab_size(vocab_size: int, *arrays: np.ndarray) -> int:
    """The smallest vocab_size that holds every id present (never above the requested one)."""
    top = max((int(a.max()) for a in arrays if a.size), default=OOV_ID)
    return min(vocab_size, max(top, OOV_ID) + 1)
