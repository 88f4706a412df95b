"""The worker's side of the GPU proxy: validate, resolve the data, train, stream epochs.

``Worker.handle`` is the RunPod handler. It is an async generator so that (1) each epoch is
streamed as it ends and (2) training runs in a thread (the event loop stays free), which
lets one worker process run several jobs at once when ``concurrency_modifier`` allows it
and lets the SDK's local API server answer two requests at once. It never executes what it
is sent: the input is validated against ``hpopt.gpu_proxy.protocol`` (unknown fields, code
strings included, are refused with an ``invalid_input`` error record) and arrays arrive as
plain .npz. TensorFlow is imported on the first trial, so health checks answer at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import platform
import shutil
import socket
import subprocess
import threading
from typing import Any, AsyncIterator, Callable, Optional

import numpy as np
from pydantic import ValidationError

from hpopt import __version__
from hpopt.gpu_proxy.data_cache import DataCache, default_cache_dir
from hpopt.gpu_proxy.payload import PayloadError, TrainingArrays, decode_training_arrays, encode_weights, fingerprint
from hpopt.gpu_proxy.protocol import (
    PROTOCOL_VERSION,
    BuiltinData,
    EpochOutput,
    ErrorOutput,
    HealthCheckRequest,
    HealthOutput,
    InlineData,
    ResultOutput,
    SystemInfoOutput,
    TrainRequest,
    parse_input,
)
from hpopt.gpu_proxy.pruning import ScheduleReporter
from hpopt.jsonutil import to_jsonable
from hpopt.run_clock import utc_stamp
from hpopt.spec import EpochRecord, TrialSpec

logger = logging.getLogger(__name__)

CONCURRENCY_ENV = "HPOPT_PROXY_CONCURRENCY"


class DataProblem(Exception):
    """The request's data cannot be used; ``code`` tells the client what to do next."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def worker_identity() -> str:
    """Who ran a trial: the RunPod pod id when there is one, else the host; plus the pid."""
    return f"{os.environ.get('RUNPOD_POD_ID') or socket.gethostname()}:{os.getpid()}"


def utc_now() -> str:
    return utc_stamp("milliseconds")


def plain(value: Any) -> Any:
    """JSON-safe: arrays to lists, NaN/inf to None (Starlette refuses NaN)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    elif isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return to_jsonable(value)


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """Where the input is wrong, without echoing its (possibly huge) values."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"] if p != "request") or "input"
        parts.append(f"{where}: {error['msg']}")
    more = f" (+{exc.error_count() - limit} more)" if exc.error_count() > limit else ""
    return "refused: " + "; ".join(parts) + more


def check_data_fits_spec(arrays: TrainingArrays, spec: TrialSpec) -> Optional[str]:
    """A mismatch between the spec's DataShape and the arrays, explained; None when they fit."""
    shape = tuple(spec.data.input_shape)
    for name in ("x_train", "x_val"):
        actual = tuple(getattr(arrays, name).shape[1:])
        if actual != shape:
            return f"{name} has sample shape {actual}, the spec says {shape}"
    for name in ("y_train", "y_val"):
        labels = getattr(arrays, name)
        if labels.min() < 0 or labels.max() >= spec.data.num_classes:
            return f"{name} holds labels outside 0..{spec.data.num_classes - 1}"
    if spec.data.vocab_size is not None:
        if max(int(arrays.x_train.max()), int(arrays.x_val.max())) >= spec.data.vocab_size:
            return f"token ids reach vocab_size={spec.data.vocab_size}"
    return None


def gpu_details() -> list[dict[str, Any]]:
    """Name and memory of each GPU (nvidia-smi when present, else what TensorFlow sees)."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=10, check=True).stdout
            gpus = []
            for line in out.strip().splitlines():
                name, total, used = (part.strip() for part in line.split(","))
                gpus.append({"name": name, "memory_total_mb": int(float(total)), "memory_used_mb": int(float(used))})
            return gpus
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            logger.warning("nvidia-smi failed: %s", exc)
    import tensorflow as tf

    return [{"name": tf.config.experimental.get_device_details(d).get("device_name", d.name)}
            for d in tf.config.list_physical_devices("GPU")]


class Worker:
    """One per worker process: the data cache, the concurrency limit and the handler."""

    def __init__(self, cache: Optional[DataCache] = None, concurrency: Optional[int] = None) -> None:
        self.cache = cache if cache is not None else DataCache(default_cache_dir())
        self.concurrency = max(1, concurrency or int(os.environ.get(CONCURRENCY_ENV, "1")))
        self.identity = worker_identity()
        self.running = 0
        self._slots: Optional[asyncio.Semaphore] = None
        self._builtin_lock = threading.Lock()

    def concurrency_modifier(self, current: int) -> int:
        """RunPod asks how many jobs this worker may hold at once."""
        return self.concurrency

    async def handle(self, job: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The RunPod handler: yields JSON records (see hpopt.gpu_proxy.protocol)."""
        try:
            request = parse_input(job.get("input"))
        except ValidationError as exc:
            logger.warning("job %s refused: %s", job.get("id"), describe_validation_error(exc))
            yield ErrorOutput(code="invalid_input", message=describe_validation_error(exc)).model_dump()
            return
        if isinstance(request, HealthCheckRequest):
            yield HealthOutput(worker=self.identity, hpopt_version=__version__, running=self.running,
                               concurrency=self.concurrency).model_dump()
        elif isinstance(request, TrainRequest):
            async for record in self._train(request):
                yield record
        else:
            yield await asyncio.to_thread(self.system_info)

    def system_info(self) -> dict[str, Any]:
        import keras
        import tensorflow as tf

        return SystemInfoOutput(
            worker=self.identity, gpus=gpu_details(), tensorflow_version=tf.__version__,
            keras_version=keras.__version__, python_version=platform.python_version(),
            hpopt_version=__version__, cached_datasets=len(self.cache), concurrency=self.concurrency,
            cpu_count=os.cpu_count(),
        ).model_dump()

    async def _train(self, request: TrainRequest) -> AsyncIterator[dict[str, Any]]:
        if request.protocol != PROTOCOL_VERSION:
            yield ErrorOutput(code="protocol_mismatch", message=(
                f"the client speaks protocol {request.protocol}, this worker {PROTOCOL_VERSION}: "
                "deploy the worker from the same hpopt version as the client")).model_dump()
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        cancelled = threading.Event()
        async with self._slots:
            self.running += 1
            try:
                try:
                    arrays, sha = await asyncio.to_thread(self.resolve_data, request.data)
                except DataProblem as problem:
                    yield ErrorOutput(code=problem.code, message=str(problem)).model_dump()
                    return
                except Exception as exc:  # noqa: BLE001 - any bad payload gets an error record, never a 500
                    logger.exception("data of a request could not be resolved")
                    yield ErrorOutput(code="payload_invalid", message=f"refused: {type(exc).__name__}: {exc}"
                                      ).model_dump()
                    return
                mismatch = check_data_fits_spec(arrays, request.spec)
                if mismatch:
                    yield ErrorOutput(code="invalid_input", message=f"refused: {mismatch}").model_dump()
                    return
                async for record in self._stream_training(request, arrays, sha, cancelled):
                    yield record
            finally:
                cancelled.set()  # the client went away (or we are done): stop the thread's training
                self.running -= 1

    async def _stream_training(self, request: TrainRequest, arrays: TrainingArrays, sha: str,
                               cancelled: threading.Event) -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def emit(record: EpochRecord) -> None:  # called on the training thread
            loop.call_soon_threadsafe(queue.put_nowait, record)

        task = asyncio.ensure_future(asyncio.to_thread(self.train_blocking, request, arrays, sha, emit, cancelled))
        task.add_done_callback(lambda _: queue.put_nowait(None))  # after every epoch put (same loop, FIFO)
        while (record := await queue.get()) is not None:
            yield EpochOutput(record=plain(record.model_dump())).model_dump()
        try:
            yield task.result()
        except Exception as exc:  # noqa: BLE001 - a crashing trial is reported, the worker lives on
            logger.exception("trial crashed on the worker")
            yield ErrorOutput(code="internal", message=f"{type(exc).__name__}: {exc}").model_dump()

    def train_blocking(self, request: TrainRequest, arrays: TrainingArrays, sha: str,
                       emit: Callable[[EpochRecord], None], cancelled: threading.Event) -> dict[str, Any]:
        """run_trial, exactly as local training calls it; the result as a JSON record."""
        import keras

        from hpopt.training import run_trial, steps_per_epoch

        spec, options = request.spec, request.options
        reporter = ScheduleReporter(options.pruning, spec.epochs, emit, cancelled)
        started = utc_now()
        result = run_trial(spec, arrays, reporter, keep_model=options.return_weights)
        finished = utc_now()
        weights = encode_weights(result.model.get_weights()) if result.model is not None else None
        result.model = None
        result.worker = self.identity
        output = ResultOutput(
            result=plain(result.model_dump()), weights=weights,
            steps_per_epoch=steps_per_epoch(spec, len(arrays.x_train)),
            n_train=len(arrays.x_train), data_sha256=sha, pruned_by_worker=reporter.pruned_at is not None,
            started_at=started, finished_at=finished,
        ).model_dump()
        del result
        keras.backend.clear_session()  # Keras state is per thread: frees this thread's graph only
        gc.collect()
        logger.info("trial done on %s: %s after %d epochs", self.identity, output["result"]["status"],
                    len(output["result"]["history"]))
        return output

    def resolve_data(self, ref: InlineData | BuiltinData) -> tuple[TrainingArrays, str]:
        """The arrays a request refers to, from the cache, its payload, or the built-in loader."""
        if isinstance(ref, InlineData):
            cached = self.cache.get(ref.sha256)
            if cached is not None:
                return cached, ref.sha256
            if ref.payload is None:
                raise DataProblem("data_not_cached", f"this worker has no data {ref.sha256[:12]}: send its payload")
            try:
                arrays, raw = decode_training_arrays(ref.payload, ref.sha256)
            except PayloadError as exc:
                raise DataProblem("payload_invalid", str(exc)) from None
            self.cache.put(ref.sha256, arrays, raw)
            logger.info("cached data %s (%d training samples)", ref.sha256[:12], len(arrays.y_train))
            return arrays, ref.sha256
        arrays, sha = self._load_builtin(ref)
        if ref.sha256 is not None and ref.sha256 != sha:
            raise DataProblem("data_mismatch", (
                f"{ref.name} loads to data {sha[:12]} here, the client has {ref.sha256[:12]} "
                "(another hpopt or dataset version): send the arrays inline"))
        return arrays, sha

    def _load_builtin(self, ref: BuiltinData) -> tuple[TrainingArrays, str]:
        key = ref.model_dump_json(exclude={"sha256"})
        with self._builtin_lock:
            sha = self.cache.builtin_sha(key)
            cached = self.cache.get(sha) if sha else None
            if cached is not None and sha is not None:
                return cached, sha
            from hpopt.datasets import BUILTIN_DATASETS, DatasetError, load_dataset

            if ref.name not in BUILTIN_DATASETS:
                raise DataProblem("data_unavailable", f"{ref.name!r} is not a built-in dataset of this worker")
            try:
                dataset = load_dataset(ref.name, **ref.split_options())
            except (DatasetError, OSError) as exc:
                raise DataProblem("data_unavailable", f"cannot load {ref.name} on the worker: {exc}") from None
            arrays = TrainingArrays.of(dataset)
            sha = fingerprint(arrays.as_dict())
            self.cache.remember_builtin(key, sha, arrays)
            return arrays, sha
