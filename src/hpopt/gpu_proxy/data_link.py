"""Which data reference a train request carries, so every trial trains on the client's arrays.

- A built-in dataset with the whole training split goes by name and split settings: the
  worker loads it itself (no upload, whatever the size) and must arrive at the same
  fingerprint, which the request carries; a worker that cannot load it or loads other
  arrays answers so, and the client switches to sending the arrays.
- Anything else (custom data, or a gpu_proxy_sample_percentage sample) goes inline: the
  first request carries the compressed arrays, later ones only their sha256; a worker that
  has not seen them (a fresh worker of a scaled-out endpoint) answers data_not_cached and
  the client sends them again.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional, Union

from hpopt.gpu_proxy.payload import TrainingArrays, encode_arrays, fingerprint
from hpopt.gpu_proxy.protocol import BuiltinData, InlineData, Payload
from hpopt.gpu_proxy.sampling import sample_training

logger = logging.getLogger(__name__)


class DataLink:
    """One per run (thread-safe): fingerprints and the payload are computed once."""

    def __init__(self, builtin: Optional[BuiltinData], *, sample_fraction: float = 1.0, seed: int = 0,
                 stratified: bool = True) -> None:
        self.builtin = builtin if sample_fraction >= 1.0 else None
        self.sample_fraction = sample_fraction
        self.seed = seed
        self.stratified = stratified
        self.payload_sent = False
        self._lock = threading.Lock()
        self._data: Optional[object] = None
        self._arrays: Optional[TrainingArrays] = None
        self._sha: Optional[str] = None
        self._full_sha: Optional[str] = None
        self._payload: Optional[Payload] = None

    @property
    def mode(self) -> str:
        return "builtin" if self.builtin is not None else "inline"

    def reference(self, data: object, with_payload: bool = False) -> Union[BuiltinData, InlineData]:
        """The data reference for the next request about ``data``."""
        with self._lock:
            self._prepare(data)
            if self.builtin is not None:
                return self.builtin.model_copy(update={"sha256": self._full_sha})
            assert self._sha is not None
            payload = None
            if with_payload or not self.payload_sent:
                payload = self._encoded()
                self.payload_sent = True
            return InlineData(sha256=self._sha, payload=payload)

    def use_inline(self, reason: str) -> None:
        """The worker cannot reproduce the built-in dataset: send the arrays from now on."""
        with self._lock:
            if self.builtin is not None:
                logger.info("GPU proxy: sending the data inline from now on (%s)", reason)
                self.builtin = None
                self._arrays = self._sha = None

    def _prepare(self, data: object) -> None:
        if data is not self._data:
            self._data, self._arrays, self._sha, self._payload, self.payload_sent = data, None, None, None, False
            self._full_sha = fingerprint(TrainingArrays.of(data).as_dict())
        if self.builtin is None and self._arrays is None:
            self._arrays = sample_training(data, self.sample_fraction, self.seed, self.stratified)
            self._sha = fingerprint(self._arrays.as_dict())

    def _encoded(self) -> Payload:
        if self._payload is None:
            assert self._arrays is not None
            self._payload = encode_arrays(self._arrays.as_dict())
            logger.info("GPU proxy: data payload %s is %.1f MB (%d training samples)", (self._sha or "")[:12],
                        len(self._payload.data) / 1e6, len(self._arrays.y_train))
        return self._payload
