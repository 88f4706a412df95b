"""Arrays <-> payloads: compressed .npz in base64, content-addressed by sha256.

Why .npz and not pickle: ``np.load(..., allow_pickle=False)`` reads only plain numeric
arrays, so a payload cannot carry code. Sizes are checked from the zip directory before
anything is decompressed (no zip bombs), dtypes against an allow-list, and the data's
fingerprint against the sha256 the request claims, so a worker caches only what it was
promised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from hpopt.gpu_proxy.protocol import Payload

DATA_KEYS = ("x_train", "y_train", "x_val", "y_val")
DATA_DTYPES = frozenset({"uint8", "int32", "int64"})  # uint8 images, int32 token ids, int64 labels
WEIGHT_DTYPES = frozenset({"float16", "float32", "float64", "int32", "int64", "uint8", "bool"})
MAX_DECOMPRESSED_BYTES = 8 * 1024**3


class PayloadError(ValueError):
    """A payload that does not decode into what it claims to be."""


@dataclass(frozen=True, eq=False)
class TrainingArrays:
    """The four arrays run_trial needs (the test split never leaves the client)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @classmethod
    def of(cls, data: object) -> "TrainingArrays":
        return cls(*(np.asarray(getattr(data, key)) for key in DATA_KEYS))

    def as_dict(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in DATA_KEYS}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.as_dict().values())


def fingerprint(arrays: Mapping[str, np.ndarray], keys: Sequence[str] = DATA_KEYS) -> str:
    """sha256 over names, dtypes, shapes and bytes: equal arrays, equal hash, on any machine."""
    digest = hashlib.sha256()
    for key in keys:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(memoryview(array).cast("B") if array.size else b"")
    return digest.hexdigest()


def encode_arrays(arrays: Mapping[str, np.ndarray]) -> Payload:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return Payload(data=base64.b64encode(buffer.getvalue()).decode("ascii"))


def payload_bytes(payload: Payload) -> bytes:
    """The raw .npz bytes of a payload (what a worker keeps in its disk cache)."""
    try:
        return base64.b64decode(payload.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"payload is not valid base64: {exc}") from None


def decode_npz(raw: bytes, allowed_dtypes: Iterable[str], expected_keys: Sequence[str] | None = None,
               max_bytes: int = MAX_DECOMPRESSED_BYTES) -> dict[str, np.ndarray]:
    """Plain arrays from .npz bytes; refuses pickles, unknown names and oversized members."""
    allowed = frozenset(allowed_dtypes)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            total = sum(m.file_size for m in members)
            names = [m.filename.removesuffix(".npy") for m in members]
    except zipfile.BadZipFile as exc:
        raise PayloadError(f"payload is not an .npz archive: {exc}") from None
    if total > max_bytes:
        raise PayloadError(f"payload decompresses to {total} bytes, over the {max_bytes}-byte limit")
    if expected_keys is not None and sorted(names) != sorted(expected_keys):
        raise PayloadError(f"payload holds {sorted(names)}, expected exactly {sorted(expected_keys)}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in names}
    except ValueError as exc:  # object arrays need pickle: refused
        raise PayloadError(f"payload holds a non-numeric array: {exc}") from None
    for name, array in arrays.items():
        if array.dtype.name not in allowed:
            raise PayloadError(f"array {name!r} has dtype {array.dtype.name}; allowed {sorted(allowed)}")
    return arrays


def decode_training_arrays(payload: Payload, expected_sha256: str) -> tuple[TrainingArrays, bytes]:
    """The four arrays of a data payload, checked for shape consistency and their sha256."""
    raw = payload_bytes(payload)
    arrays = decode_npz(raw, DATA_DTYPES, DATA_KEYS)
    for x, y in (("x_train", "y_train"), ("x_val", "y_val")):
        if arrays[y].ndim != 1 or len(arrays[x]) != len(arrays[y]) or len(arrays[x]) == 0:
            raise PayloadError(f"{x} and {y} must hold the same non-zero number of samples, "
                               f"and {y} must be 1-D (got {arrays[x].shape} and {arrays[y].shape})")
    actual = fingerprint(arrays)
    if actual != expected_sha256:
        raise PayloadError(f"payload sha256 is {actual}, the request claims {expected_sha256}")
    return TrainingArrays(**arrays), raw


def encode_weights(weights: Sequence[np.ndarray]) -> Payload:
    """Model weights in get_weights() order (names w0000, w0001, ... keep the order)."""
    return encode_arrays({f"w{i:04d}": w for i, w in enumerate(weights)})


def decode_weights(payload: Payload) -> list[np.ndarray]:
    arrays = decode_npz(payload_bytes(payload), WEIGHT_DTYPES)
    return [arrays[name] for name in sorted(arrays)]
