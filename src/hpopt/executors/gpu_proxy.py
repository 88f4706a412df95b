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

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import optuna
from pydantic import ValidationError

from hpopt import interrupts
from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.cost import BUDGET_STOP_ATTR, CostLedger, cost_usd, study_costs
from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.endpoint import EndpointConfigError
from hpopt.gpu_proxy.errors import (
    FOREIGN_WORKER_HINT,
    GpuBudgetReached,
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
from hpopt.gpu_proxy.routes import Route, choose_route, routes_from_config
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


class _Bill:
    """Seconds billed for one trial's remote jobs (several when a job is submitted again)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.jobs = 0

    def add(self, job: RemoteJob, submitted: float) -> None:
        measured = job.execution_ms / 1000.0 if job.execution_ms is not None else time.monotonic() - submitted
        self.seconds += round(measured, 3)
        self.jobs += 1


class GpuProxyExecutor:
    """Runs trials on the endpoint; thread-safe so ``concurrency`` trials can be in flight."""

    name = "gpu_proxy"

    def __init__(self, client: Optional[GpuProxyClient], link: DataLink, *, fallback_local: bool = True,
                 timeout_s: float = 7200.0, return_weights: bool = True, concurrency: int = 1,
                 unavailable: Optional[str] = None, local: Any = None, routes: Optional[list[Route]] = None,
                 tier: str = "fixed", budget_usd: Optional[float] = None,
                 usd_per_hour: Optional[float] = None) -> None:
        from hpopt.executors.local import LocalExecutor

        if routes is None and client is not None:
            routes = [Route("default", client, usd_per_hour=usd_per_hour)]
        self.routes = routes or []
        self.client = client or (self.routes[0].client if self.routes else None)  # probes and the stop event
        self.tier = tier
        self.ledger = CostLedger(budget_usd)
        self._keys = itertools.count(-1, -1)  # trials run without an Optuna trial (direct use) get keys < 0
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
        trial = getattr(reporter, "trial", None)
        key = trial.number if trial is not None else next(self._keys)
        with self._build_lock:
            route, why = choose_route(self.routes, self.tier, spec, key)
        if route is None:  # gpu_tier=hybrid: a small model
            return self._run_local(spec, data, reporter, 0)
        if not self._within_budget(route, spec, trial, key):
            return self._run_local(spec, data, reporter, 0)
        forwarder = _Forwarder(reporter)
        bill = _Bill()
        cost: Optional[float] = None
        try:
            try:
                result = self._run_remote(route, spec, data, reporter, forwarder, bill)
            except PayloadTooLarge as exc:
                self._unavailable = str(exc)  # the data will not shrink: stay local for the whole run
                result = self._fall_back(exc, spec, data, reporter, forwarder.count)
            except GpuProxyUnavailable as exc:
                result = self._fall_back(exc, spec, data, reporter, forwarder.count)
            except Stopped:
                raise KeyboardInterrupt from None
            if bill.jobs:
                cost = cost_usd(bill.seconds, route.price())
                result = result.model_copy(update={"billed_s": round(bill.seconds, 3), "cost_usd": cost,
                                                   "endpoint": route.name})
                logger.info("trial %s on %s: billed %.3f s, %s", key, route.name, bill.seconds,
                            "no price known" if cost is None else f"{cost:.6f} USD")
            if self.tier != "fixed":  # the estimate that chose the endpoint, beside the model's actual size
                logger.info("trial %s: %s; the trained model has %d parameters", key, why, result.param_count)
            return result
        finally:
            self.ledger.settle(key, cost)

    def preflight(self) -> None:
        """One reachability check per endpoint before the study starts, so a dead one is known early."""
        if self._unavailable is not None or self.client is None:
            self._mark_down(GpuProxyUnavailable(self._unavailable or "no GPU proxy client"))
            return
        try:
            for route in self.routes:
                route.client.probe()
        except GpuProxyUnavailable as exc:
            self._mark_down(exc)

    def _within_budget(self, route: Route, spec: TrialSpec, trial: Any, key: int) -> bool:
        """Reserve the trial's estimated cost; False: it would pass gpu_budget_usd (train it locally).
        Raises GpuBudgetReached when it may not train locally (gpu_proxy_fallback_local=false)."""
        budget = self.ledger.budget_usd
        if budget is None:
            return True
        earlier = study_costs(trial, key)
        price = route.price()
        if price is None:
            fits, committed, why = False, self.ledger.total(), f"no price is known for endpoint {route.name}"
            self.ledger.reserve(key, float("inf"), earlier)
        else:
            estimate = self.ledger.estimate(price, spec.epochs, earlier)
            fits, committed = self.ledger.reserve(key, estimate, earlier)
            why = (f"spent and running {committed:.6f} USD + this trial's estimate {estimate:.6f} USD would pass "
                   f"gpu_budget_usd={budget:g}")
        if fits:
            return True
        first = self.ledger.stopped_at_trial == key
        if first and trial is not None:
            trial.study.set_user_attr(BUDGET_STOP_ATTR, key)
        if not self.fallback_local:
            raise GpuBudgetReached(f"GPU budget reached: {why}; trial {key} was not sent and the run ends "
                                   "(gpu_proxy_fallback_local=false; set it to true to train the rest locally)")
        if first:
            logger.warning("GPU budget reached: %s; trial %s and later ones train locally", why, key)
        return False

    def close(self) -> None:
        """Stop waiting, cancel the jobs in flight, restore Ctrl-C handling."""
        if self.client is not None:
            self.client.stop.set()
            with self._state:
                jobs = list(self._jobs)
            for job in jobs:
                job.cancel()
            for route in self.routes:
                route.client.close()
            if self.client not in [r.client for r in self.routes]:
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

    def _run_remote(self, route: Route, spec: TrialSpec, data: "TrainingData",
                    reporter: Optional["EpochReporter"], forwarder: _Forwarder, bill: _Bill) -> TrialResult:
        trial = getattr(reporter, "trial", None)  # OptunaReporter: prune against its study
        schedule = pruning_schedule(trial.study, spec.epochs) if trial is not None and getattr(
            reporter, "prune", False) else None
        options = TrainOptions(return_weights=self.return_weights, pruning=schedule)
        deadline = time.monotonic() + self.timeout_s
        with_payload = False
        for _ in range(MAX_ATTEMPTS):
            request = TrainRequest(spec=spec, data=self.link.reference(data, with_payload), options=options)
            job = route.client.submit_train(request, deadline)
            submitted = time.monotonic()
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
                bill.add(job, submitted)
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
    """The executor for ``use_gpu_proxy=true``: endpoints, data link, worker-code check, preflight."""
    proxy_code(config)
    options = dict(fallback_local=config.gpu_proxy_fallback_local, timeout_s=config.gpu_proxy_timeout_s,
                   return_weights=config.save_best_model, concurrency=config.gpu_proxy_concurrency,
                   tier=config.gpu_tier, budget_usd=config.gpu_budget_usd)
    try:
        routes = routes_from_config(config)
    except EndpointConfigError as exc:
        executor = GpuProxyExecutor(None, data_link(config), unavailable=str(exc), **options)
        executor.preflight()
        return executor
    executor = GpuProxyExecutor(routes[0].client, data_link(config), routes=routes, **options)
    executor.preflight()
    if config.gpu_proxy_concurrency > 1:
        executor.watch_interrupts()
    return executor
