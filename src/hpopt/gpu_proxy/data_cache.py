"""The worker's dataset cache: arrays by sha256, in memory (LRU, bounded) and on disk.

A study sends its data once per worker: later trials carry only the fingerprint. The disk
copy (the .npz bytes as received) survives a worker restart when the folder is on a
RunPod network volume (/runpod-volume), which is the default when one is mounted.
Built-in datasets are cached under the fingerprint of the arrays they load to.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from hpopt.gpu_proxy.payload import DATA_DTYPES, DATA_KEYS, PayloadError, TrainingArrays, decode_npz, fingerprint

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "HPOPT_PROXY_CACHE_DIR"
CACHE_BYTES_ENV = "HPOPT_PROXY_CACHE_BYTES"
DEFAULT_MAX_BYTES = 6 * 1024**3


def default_cache_dir() -> Path:
    """HPOPT_PROXY_CACHE_DIR, else the network volume when mounted, else a temp folder."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    volume = Path("/runpod-volume")
    if volume.is_dir() and os.access(volume, os.W_OK):
        return volume / "hpopt-cache"
    return Path(tempfile.gettempdir()) / "hpopt-gpu-proxy-cache"


class DataCache:
    """Thread-safe; one per worker process."""

    def __init__(self, disk_dir: Optional[Path] = None, max_bytes: Optional[int] = None) -> None:
        self.disk_dir = disk_dir
        self.max_bytes = max_bytes or int(os.environ.get(CACHE_BYTES_ENV, DEFAULT_MAX_BYTES))
        self._memory: OrderedDict[str, TrainingArrays] = OrderedDict()
        self._builtin: dict[str, str] = {}  # builtin request key -> sha256
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    def get(self, sha256: str) -> Optional[TrainingArrays]:
        with self._lock:
            if sha256 in self._memory:
                self._memory.move_to_end(sha256)
                return self._memory[sha256]
        raw = self._read_disk(sha256)
        if raw is None:
            return None
        try:
            arrays = TrainingArrays(**decode_npz(raw, DATA_DTYPES, DATA_KEYS))
            if fingerprint(arrays.as_dict()) != sha256:
                raise PayloadError("content does not match its name")
        except PayloadError as exc:
            logger.warning("ignoring unreadable cache file for %s: %s", sha256, exc)
            return None
        self._remember(sha256, arrays)
        return arrays

    def put(self, sha256: str, arrays: TrainingArrays, raw: Optional[bytes] = None) -> None:
        """Keep ``arrays``; ``raw`` (the verified .npz bytes) also goes to disk."""
        self._remember(sha256, arrays)
        if raw is not None and self.disk_dir is not None:
            try:
                self.disk_dir.mkdir(parents=True, exist_ok=True)
                tmp = self.disk_dir / f".{sha256}.{os.getpid()}.tmp"
                tmp.write_bytes(raw)
                tmp.replace(self.disk_dir / f"{sha256}.npz")
            except OSError as exc:
                logger.warning("cannot write the data cache in %s: %s", self.disk_dir, exc)

    def builtin_sha(self, key: str) -> Optional[str]:
        with self._lock:
            return self._builtin.get(key)

    def remember_builtin(self, key: str, sha256: str, arrays: TrainingArrays) -> None:
        with self._lock:
            self._builtin[key] = sha256
        self._remember(sha256, arrays)

    def _remember(self, sha256: str, arrays: TrainingArrays) -> None:
        with self._lock:
            self._memory[sha256] = arrays
            self._memory.move_to_end(sha256)
            while len(self._memory) > 1 and sum(a.nbytes for a in self._memory.values()) > self.max_bytes:
                evicted, _ = self._memory.popitem(last=False)
                logger.info("data cache: evicted %s from memory", evicted[:12])

    def _read_disk(self, sha256: str) -> Optional[bytes]:
        if self.disk_dir is None:
            return None
        path = self.disk_dir / f"{sha256}.npz"
        try:
            return path.read_bytes()
        except OSError:
            return None
