"""GPU proxy execution: trials train on a RunPod serverless endpoint, the study stays here.

Each trial goes out as a declarative TrialSpec with a data reference and the pruner's
per-epoch thresholds (see hpopt.gpu_proxy.pruning); its epochs come back as the worker
produced them and are reported to Optuna here, so the study records them as for a local
trial, and the trained weights are put into the spec's model for best_model.keras.

When the endpoint is unreachable or fails after retries, a trial falls back to local
training with one warning (gpu_proxy_fallback_local=true; the endpoint is tried again
after REPROBE_S) or the run stops with GpuProxyRunStopped (false).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import optuna
from pydantic import ValidationError

from hpopt import interrupts
from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.endpoint import EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.errors import (
    FOREIGN_WORKER_HINT,
    GpuProxyRunStopped,
    GpuProxyUnavailable,
    PayloadTooLarge,
    RemoteTrialError,
)
from hpopt.gpu_proxy.jobs import JobLost, RemoteJob
from hpopt.gpu_proxy.payload import PayloadError, decode_weights
from hpopt.gpu_proxy.protocol import ErrorOutput, ResultOutput, TrainOptions, TrainRequest
from hpopt.gpu_proxy.pruning import pruning_schedule
from hpopt.gpu_proxy.records import epoch_record, model_with_weights, pruned_from_epochs, trial_result, truncated
from hpopt.gpu_proxy.setup import data_link, proxy_code
from hpopt.gpu_proxy.transport import DeadlinePassed, Stopped
from hpopt.spec import EpochRecord, TrialResult, TrialSpec

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig
    from hpopt.training import EpochReporter, TrainingData

logger = logging.getLogger(__name__)

REPROBE_S = 300.0
MAX_ATTEMPTS = 4  # per trial: data cache misses, builtin -> inline, a job lost to a worker restart


class _Forwarder:
    """Reports epochs to the trial's reporter, skipping those it already has (after a fallback)."""

    def __init__(self, reporter: Optional["EpochReporter"], skip: int = 0) -> None:
        self.reporter = reporter
        self.skip = skip
        self.count = skip

    def report(self, record: EpochRecord) -> None:
        if record.epoch <= self.skip or self.reporter is None:
            return
        self.count = record.epoch
        self.reporter.report(record)


class GpuProxyExecutor:
    """Runs trials on the endpoint; thread-safe so ``concurrency`` trials can be in flight."""

    name = "gpu_proxy"

    def __init__(self, client: Optional[GpuProxyClient], link: DataLink, *, fallback_local: bool = True,
                 timeout_s: float = 7200.0, return_weights: bool = True, concurrency: int = 1,
                 unavailable: Optional[str] = None, local: Any = None) -> None:
        from hpopt.executors.local import LocalExecutor

        self.client = client
        self.link = link
        self.fallback_local = fallback_local
        self.timeout_s = timeout_s
        self.return_weights = return_weights
        self.concurrency = concurrency
        self.local = local or LocalExecutor()
        self._unavailable = unavailable  # set: never usable in this run (e.g. no endpoint configured)
        self._down_until: Optional[float] = None
        self._warned = False
        self._state = threading.Lock()
        self._local_lock = threading.Lock()  # local fallback trains one trial at a time
        self._build_lock = threading.Lock()
        self._jobs: set[RemoteJob] = set()
        self._on_stop: Optional[Callable[[], None]] = None

    # ------------------------------------------------------------------ public

    def run(self, spec: TrialSpec, data: "TrainingData", reporter: Optional["EpochReporter"]) -> TrialResult:
        if self._unavailable is not None:
            return self._fall_back(GpuProxyUnavailable(self._unavailable), spec, data, reporter, 0)
        if self._is_down():
            return self._run_local(spec, data, reporter, 0)
        forwarder = _Forwarder(reporter)
        try:
            return self._run_remote(spec, data, reporter, forwarder)
        except PayloadTooLarge as exc:
            self._unavailable = str(exc)  # the data will not shrink: stay local for the whole run
            return self._fall_back(exc, spec, data, reporter, forwarder.count)
        except GpuProxyUnavailable as exc:
            return self._fall_back(exc, spec, data, reporter, forwarder.count)
        except Stopped:
            raise KeyboardInterrupt from None

    def preflight(self) -> None:
        """One reachability check before the study starts, so a dead endpoint is known early."""
        if self._unavailable is not None or self.client is None:
            self._mark_down(GpuProxyUnavailable(self._unavailable or "no GPU proxy client"))
            return
        try:
            self.client.probe()
        except GpuProxyUnavailable as exc:
            self._mark_down(exc)

    def close(self) -> None:
        """Stop waiting, cancel the jobs in flight, restore Ctrl-C handling."""
        if self.client is not None:
            self.client.stop.set()
            with self._state:
                jobs = list(self._jobs)
            for job in jobs:
                job.cancel()
            self.client.close()
        if self._on_stop is not None:
            interrupts.STOP.remove_on_stop(self._on_stop)
            self._on_stop = None

    def watch_interrupts(self) -> None:
        """With trials in threads, Ctrl-C reaches only the main thread: a stop request also ends
        the threads' waits (their jobs are then cancelled)."""
        if self.client is None:
            return
        self._on_stop = self.client.stop.set
        interrupts.STOP.on_stop(self._on_stop)

    # ------------------------------------------------------------------ fallback

    def _is_down(self) -> bool:
        with self._state:
            if self._down_until is None:
                return False
            if time.monotonic() < self._down_until:
                return True
            assert self.client is not None
            try:
                self.client.probe()
            except GpuProxyUnavailable:
                self._down_until = time.monotonic() + REPROBE_S
                return True
            logger.info("GPU proxy at %s answers again: trials go to it", self.client.endpoint.base_url)
            self._down_until, self._warned = None, False
            return False

    def _mark_down(self, error: Exception) -> None:
        if not self.fallback_local:
            raise GpuProxyRunStopped(
                f"the GPU proxy failed: {error}. Nothing ran locally because gpu_proxy_fallback_local=false: "
                "fix the endpoint and run again with the same run_name to resume, or set "
                "gpu_proxy_fallback_local=true to train locally when the proxy fails") from None
        with self._state:
            first, self._warned = not self._warned, True
            self._down_until = time.monotonic() + REPROBE_S
        if first:
            again = "" if self._unavailable else f"; the proxy is tried again every {REPROBE_S:.0f} s"
            logger.warning("GPU proxy unavailable (%s): training locally%s", error, again)

    def _fall_back(self, error: Exception, spec: TrialSpec, data: "TrainingData",
                   reporter: Optional["EpochReporter"], reported: int) -> TrialResult:
        self._mark_down(error)
        return self._run_local(spec, data, reporter, reported)

    def _run_local(self, spec: TrialSpec, data: "TrainingData", reporter: Optional["EpochReporter"],
                   reported: int) -> TrialResult:
        # Same seed, same epochs: those already reported from the proxy are not reported twice.
        with self._local_lock:
            return self.local.run(spec, data, _Forwarder(reporter, reported) if reported else reporter)

    # ------------------------------------------------------------------ remote

    def _run_remote(self, spec: TrialSpec, data: "TrainingData", reporter: Optional["EpochReporter"],
                    forwarder: _Forwarder) -> TrialResult:
        assert self.client is not None
        trial = getattr(reporter, "trial", None)  # OptunaReporter: prune against its study
        schedule = pruning_schedule(trial.study, spec.epochs) if trial is not None and getattr(
            reporter, "prune", False) else None
        options = TrainOptions(return_weights=self.return_weights, pruning=schedule)
        deadline = time.monotonic() + self.timeout_s
        with_payload = False
        for _ in range(MAX_ATTEMPTS):
            request = TrainRequest(spec=spec, data=self.link.reference(data, with_payload), options=options)
            job = self.client.submit_train(request, deadline)
            with self._state:
                self._jobs.add(job)
            try:
                outcome = self._follow(job, spec, forwarder)
            except JobLost as exc:
                logger.info("GPU proxy: %s; submitting the trial again", exc)
                forwarder.skip = forwarder.count  # the new job streams those epochs again
                continue
            except DeadlinePassed:
                job.cancel()
                if not job.started:
                    raise GpuProxyUnavailable(f"no worker took the trial within gpu_proxy_timeout_s="
                                              f"{self.timeout_s:g} s (are the endpoint's workers all busy?)") from None
                raise RemoteTrialError(f"the trial ran over gpu_proxy_timeout_s={self.timeout_s:g} s on the GPU "
                                       "proxy and was cancelled") from None
            except BaseException:
                job.cancel()  # pruned, Ctrl-C or a broken connection: do not leave it running
                raise
            finally:
                with self._state:
                    self._jobs.discard(job)
            if isinstance(outcome, TrialResult):
                return outcome
            if outcome.code == "data_not_cached":
                with_payload = True
            elif outcome.code in ("data_mismatch", "data_unavailable") and self.link.mode == "builtin":
                self.link.use_inline(outcome.message)
            elif outcome.code == "internal":
                raise RemoteTrialError(f"the trial crashed on the GPU proxy worker: {outcome.message}")
            else:
                raise GpuProxyUnavailable(f"the worker refused the trial ({outcome.code}): {outcome.message}")
        raise GpuProxyUnavailable(f"the worker kept refusing the trial's data after {MAX_ATTEMPTS} attempts")

    def _follow(self, job: RemoteJob, spec: TrialSpec, forwarder: _Forwarder) -> Union[TrialResult, ErrorOutput]:
        """Report each epoch as it arrives; the client's pruner may stop the trial here too."""
        epochs: list[EpochRecord] = []
        for output in job.outputs():
            kind = output.get("type")
            try:
                if kind == "epoch":
                    record = epoch_record(output.get("record") or {})
                    epochs.append(record)
                    try:
                        forwarder.report(record)
                    except optuna.TrialPruned:
                        job.cancel()
                        return self._pruned_here(job, epochs)
                elif kind == "result":
                    return self._finish(ResultOutput.model_validate(output), spec, epochs, forwarder)
                elif kind == "error":
                    return ErrorOutput.model_validate(output)
                else:
                    raise GpuProxyUnavailable(f"job {job.id} answered a record without a known type "
                                              f"(keys: {', '.join(sorted(map(str, output))[:8])}): "
                                              f"{FOREIGN_WORKER_HINT}")
            except ValidationError as exc:
                raise GpuProxyUnavailable(f"the worker sent a {kind} record this client cannot read "
                                          f"(another hpopt version?): {exc.errors()[0]['msg']}") from None
        raise GpuProxyUnavailable(f"job {job.id} ended without a result; {FOREIGN_WORKER_HINT}")

    def _pruned_here(self, job: RemoteJob, epochs: list[EpochRecord]) -> TrialResult:
        for output in job.buffered:  # the worker's result may already be here (the local SDK server)
            if output.get("type") == "result":
                return truncated(trial_result(ResultOutput.model_validate(output)), len(epochs))
        return pruned_from_epochs(epochs)

    def _finish(self, output: ResultOutput, spec: TrialSpec, streamed: list[EpochRecord],
                forwarder: _Forwarder) -> TrialResult:
        result = trial_result(output)
        for record in result.history[len(streamed):]:  # epochs the stream did not carry
            try:
                forwarder.report(record)
            except optuna.TrialPruned:
                return truncated(result, record.epoch)
        if output.weights is not None and result.status == "complete":
            try:
                weights = decode_weights(output.weights)
                with self._build_lock:
                    result.model = model_with_weights(spec, output.steps_per_epoch, weights)
            except (PayloadError, ValueError) as exc:
                raise RemoteTrialError(f"the weights returned by the GPU proxy are unusable: {exc}") from None
        return result


def make_gpu_proxy_executor(config: "OptimizationConfig") -> GpuProxyExecutor:
    """The executor for ``use_gpu_proxy=true``: endpoint, data link, worker-code check, preflight."""
    proxy_code(config)
    options = dict(fallback_local=config.gpu_proxy_fallback_local, timeout_s=config.gpu_proxy_timeout_s,
                   return_weights=config.save_best_model, concurrency=config.gpu_proxy_concurrency)
    try:
        endpoint = resolve_endpoint(config.gpu_proxy_endpoint)
    except EndpointConfigError as exc:
        executor = GpuProxyExecutor(None, data_link(config), unavailable=str(exc), **options)
        executor.preflight()
        return executor
    client = GpuProxyClient(endpoint, max_request_bytes=int(config.gpu_proxy_max_payload_mb * 1_000_000))
    executor = GpuProxyExecutor(client, data_link(config), **options)
    logger.info("GPU proxy: %s (from %s), %d trial(s) in flight, fallback to local %s", endpoint.base_url,
                endpoint.describe(), config.gpu_proxy_concurrency, "on" if config.gpu_proxy_fallback_local else "off")
    executor.preflight()
    if config.gpu_proxy_concurrency > 1:
        executor.watch_interrupts()
    return executor
