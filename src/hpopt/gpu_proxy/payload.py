"""Arrays <-> payloads: compressed .npz in base64, content-addressed by sha256.

Why .npz and not pickle: ``np.load(..., allow_pickle=False)`` reads only plain numeric
arrays, so a payload cannot carry code. Sizes are checked from the zip directory before
anything is decompressed (no zip bombs), dtypes against an allow-list, and the data's
fingerprint against the sha256 the request claims, so a worker caches only what it was
promised. Each .npy header is read before its array: a shape whose byte size exceeds the
cap on decoded bytes (HPOPT_PROXY_MAX_ARRAY_BYTES, default 512 MiB) is refused before
anything is allocated, and decompression never goes past the sizes so checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass
from typing import IO, Iterable, Mapping, Optional, Sequence

import numpy as np

from hpopt.gpu_proxy.protocol import Payload

DATA_KEYS = ("x_train", "y_train", "x_val", "y_val")
DATA_DTYPES = frozenset({"uint8", "int32", "int64"})  # uint8 images, int32 token ids, int64 labels
WEIGHT_DTYPES = frozenset({"float16", "float32", "float64", "int32", "int64", "uint8", "bool"})
# Decoded arrays of one payload at most this many bytes (operators: HPOPT_PROXY_MAX_ARRAY_BYTES). A
# request carries at most ~21 MB of compressed .npz (protocol.MAX_PAYLOAD_CHARS of base64), which real
# data (images, padded token ids) never expands past this; only a zip bomb would.
MAX_ARRAY_BYTES_ENV = "HPOPT_PROXY_MAX_ARRAY_BYTES"
DEFAULT_MAX_ARRAY_BYTES = 512 * 1024**2
MAX_DECOMPRESSED_BYTES = DEFAULT_MAX_ARRAY_BYTES  # the old name
MAX_ARRAYS = 4096  # weights: one array per variable
_CHUNK = 8 * 1024**2


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


def max_array_bytes() -> int:
    """The cap on a payload's decoded arrays: HPOPT_PROXY_MAX_ARRAY_BYTES, else 512 MiB."""
    value = os.environ.get(MAX_ARRAY_BYTES_ENV, "").strip()
    try:
        return max(1, int(value)) if value else DEFAULT_MAX_ARRAY_BYTES
    except ValueError:
        return DEFAULT_MAX_ARRAY_BYTES


def _read_header(fh: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(fh)
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise PayloadError(f"array {name!r} has no valid .npy header: {exc}") from None
    raise PayloadError(f"array {name!r} has an unsupported .npy version {version}")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, allowed: frozenset[str],
                 budget: int, digest: Optional["hashlib._Hash"]) -> np.ndarray:
    """One array, its size checked from the header before anything is allocated or decompressed."""
    with archive.open(info) as fh:
        shape, fortran, dtype = _read_header(fh, name)
        if dtype.hasobject:  # pickled Python objects: never loaded
            raise PayloadError(f"payload holds a non-numeric array {name!r} (dtype {dtype}): refused, never unpickled")
        if dtype.name not in allowed:
            raise PayloadError(f"array {name!r} has dtype {dtype.name}; allowed {sorted(allowed)}")
        if fortran:
            raise PayloadError(f"array {name!r} is stored in Fortran order; send C-ordered arrays")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise PayloadError(f"array {name!r} has an invalid shape {shape!r}")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow, nothing allocated yet
        if nbytes > budget:
            raise PayloadError(f"array {name!r} of shape {shape} would take {nbytes} bytes, over what is left "
                               f"of the {max_array_bytes()}-byte limit on decoded arrays ({budget})")
        if fh.tell() + nbytes != info.file_size:
            raise PayloadError(f"array {name!r}: its header says {nbytes} bytes, the archive holds "
                               f"{info.file_size - fh.tell()}")
        array = np.empty(shape, dtype=dtype)
        if digest is not None:
            digest.update(f"{name}:{dtype.str}:{tuple(shape)};".encode())
        view = memoryview(array.reshape(-1)).cast("B") if nbytes else memoryview(b"")
        done = 0
        while done < nbytes:
            got = fh.readinto(view[done:done + _CHUNK])
            if not got:
                raise PayloadError(f"array {name!r} is truncated: {done} of {nbytes} bytes")
            if digest is not None:
                digest.update(view[done:done + got])
            done += got
        return array


def decode_npz(raw: bytes, allowed_dtypes: Iterable[str], expected_keys: Sequence[str] | None = None,
               max_bytes: Optional[int] = None, digest: Optional["hashlib._Hash"] = None) -> dict[str, np.ndarray]:
    """Plain arrays from .npz bytes; refuses pickles, unknown names and oversized members.

    Sizes are checked from the zip directory and from each .npy header before anything is
    decompressed or allocated; decoding stops at ``max_bytes`` (default max_array_bytes())
    whatever the archive claims. ``digest``, when given, is fed the fingerprint() of the
    arrays (in ``expected_keys`` order) as they are read.
    """
    allowed = frozenset(allowed_dtypes)
    limit = max_array_bytes() if max_bytes is None else max_bytes
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            names = [m.filename.removesuffix(".npy") for m in members]
            total = sum(m.file_size for m in members)
            if len(members) > MAX_ARRAYS or len(set(names)) != len(names):
                raise PayloadError(f"payload holds {len(members)} members (at most {MAX_ARRAYS}, unique names)")
            if total > limit:
                raise PayloadError(f"payload decompresses to {total} bytes, over the {limit}-byte limit")
            if any(m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for m in members):
                raise PayloadError("payload members must be stored or deflated (as np.savez_compressed writes)")
            if expected_keys is not None and sorted(names) != sorted(expected_keys):
                raise PayloadError(f"payload holds {sorted(names)}, expected exactly {sorted(expected_keys)}")
            by_name = dict(zip(names, members))
            arrays: dict[str, np.ndarray] = {}
            for name in (expected_keys if expected_keys is not None else sorted(names)):
                arrays[name] = _read_member(archive, by_name[name], name, allowed,
                                            limit - sum(a.nbytes for a in arrays.values()), digest)
            return arrays
    except PayloadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise PayloadError(f"payload is not a valid .npz archive: {exc}") from None
    except MemoryError:
        raise PayloadError("payload does not fit in this worker's memory") from None


def decode_training_arrays(payload: Payload, expected_sha256: str) -> tuple[TrainingArrays, bytes]:
    """The four arrays of a data payload, checked against their sha256 as they are decoded."""
    raw = payload_bytes(payload)
    digest = hashlib.sha256()
    arrays = decode_npz(raw, DATA_DTYPES, DATA_KEYS, digest=digest)
    actual = digest.hexdigest()
    if actual != expected_sha256:
        raise PayloadError(f"payload sha256 is {actual}, the request claims {expected_sha256}")
    for x, y in (("x_train", "y_train"), ("x_val", "y_val")):
        if arrays[y].ndim != 1 or len(arrays[x]) != len(arrays[y]) or len(arrays[x]) == 0:
            raise PayloadError(f"{x} and {y} must hold the same non-zero number of samples, "
                               f"and {y} must be 1-D (got {arrays[x].shape} and {arrays[y].shape})")
    return TrainingArrays(**arrays), raw


def encode_weights(weights: Sequence[np.ndarray]) -> Payload:
    """Model weights in get_weights() order (names w0000, w0001, ... keep the order)."""
    return encode_arrays({f"w{i:04d}": w for i, w in enumerate(weights)})


def decode_weights(payload: Payload) -> list[np.ndarray]:
    arrays = decode_npz(payload_bytes(payload), WEIGHT_DTYPES)
    return [arrays[name] for name in sorted(arrays)]
