"""GPU proxy pieces without a worker: wire format, payloads, pruning thresholds, sampling,
endpoint and retries, fallback decisions, worker-code discovery and proxy_status.

TensorFlow is never imported here (fast); the real worker is exercised in
test_gpu_proxy_worker.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import socket

import httpx
import numpy as np
import optuna
import pytest
from pydantic import ValidationError

from hpopt.config import load_config
from hpopt.executors.gpu_proxy import GpuProxyExecutor
from hpopt.gpu_proxy import GpuProxyRunStopped, GpuProxyUnavailable, proxy_status
from hpopt.gpu_proxy.client import GpuProxyClient
from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.discovery import ProxyCodeError, clone_proxy_code, locate_proxy_code
from hpopt.gpu_proxy.endpoint import Endpoint, EndpointConfigError, resolve_endpoint
from hpopt.gpu_proxy.errors import PayloadTooLarge
from hpopt.gpu_proxy.payload import (
    PayloadError,
    TrainingArrays,
    decode_training_arrays,
    decode_weights,
    encode_arrays,
    encode_weights,
    fingerprint,
)
from hpopt.gpu_proxy.protocol import Payload, parse_input
from hpopt.gpu_proxy.pruning import MedianRule, SchedulableMedianPruner, ScheduleReporter, pruning_schedule
from hpopt.gpu_proxy.reachability import Reachability, classify
from hpopt.gpu_proxy.sampling import sample_indices, sample_training
from hpopt.gpu_proxy.transport import RetryPolicy, Transport
from hpopt.gpu_proxy.worker import Worker
from hpopt.spec import EpochRecord, TrialResult

SPEC = {
    "architecture": {"kind": "cnn", "conv_layers": 1, "filters": 8, "kernel_size": 3, "hidden_layers": 1,
                     "hidden_units": 16, "hidden_shrink": 1.0, "dropout": 0.0, "learning_rate": 0.01,
                     "batch_size": 32},
    "data": {"modality": "image", "input_shape": [8, 8, 1], "num_classes": 3},
    "epochs": 2, "seed": 1,
}
SECRET = "rpa_SECRET_KEY_never_logged"
FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02)


def _arrays(n: int = 60, seed: int = 0) -> TrainingArrays:
    rng = np.random.default_rng(seed)
    return TrainingArrays(rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8), np.arange(n, dtype=np.int64) % 3,
                          rng.integers(0, 255, (12, 8, 8, 1), dtype=np.uint8), np.arange(12, dtype=np.int64) % 3)


def _train_input(**extra):
    arrays = _arrays()
    return {"operation": "train", "spec": SPEC,
            "data": {"source": "inline", "sha256": fingerprint(arrays.as_dict())}, **extra}


# ----------------------------------------------------------------------------- wire format


def test_valid_train_input_parses():
    request = parse_input(_train_input(options={"return_weights": True}))
    assert request.operation == "train" and request.options.return_weights and request.data.payload is None


@pytest.mark.parametrize("bad", [
    _train_input(code="import os; os.system('touch /tmp/pwned')"),
    _train_input(options={"return_weights": True, "callback": "lambda: 1"}),
    {**_train_input(), "spec": {**SPEC, "model_fn": "def f(): pass"}},
    {**_train_input(), "data": {"source": "inline", "sha256": "0" * 64, "pickle": "gASV"}},
    {"operation": "exec", "source": "print(1)"},
    {"operation": "health_check", "command": "rm -rf /"},
    "import os",
    None,
])
def test_code_and_unknown_fields_are_refused(bad):
    with pytest.raises(ValidationError):
        parse_input(bad)


def _handle(worker: Worker, job_input) -> list[dict]:
    async def collect():
        return [record async for record in worker.handle({"id": "t", "input": job_input})]

    return asyncio.run(collect())


def test_worker_answers_refusals_and_health_without_training(tmp_path):
    worker = Worker(cache=None, concurrency=1)
    [refusal] = _handle(worker, _train_input(code="import os"))
    assert refusal["type"] == "error" and refusal["code"] == "invalid_input"
    assert "code: Extra inputs are not permitted" in refusal["message"]
    [health] = _handle(worker, {"operation": "health_check"})
    assert health["type"] == "health" and health["protocol"] == 1
    [miss] = _handle(worker, _train_input())  # the hash alone, never seen by this worker
    assert miss["code"] == "data_not_cached"


# ----------------------------------------------------------------------------- payloads


def test_payload_round_trip_is_content_addressed():
    arrays = _arrays()
    sha = fingerprint(arrays.as_dict())
    decoded, raw = decode_training_arrays(encode_arrays(arrays.as_dict()), sha)
    assert fingerprint(decoded.as_dict()) == sha and raw[:2] == b"PK"
    assert fingerprint(_arrays(seed=1).as_dict()) != sha
    with pytest.raises(PayloadError, match="sha256"):
        decode_training_arrays(encode_arrays(arrays.as_dict()), "0" * 64)


def _npz_payload(**arrays) -> Payload:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return Payload(data=base64.b64encode(buffer.getvalue()).decode())


def test_payload_never_unpickles_and_checks_dtypes():
    good = _arrays().as_dict()
    pickled = _npz_payload(**{**good, "x_train": np.array([{"a": 1}] * 60, dtype=object)})
    with pytest.raises(PayloadError, match="non-numeric"):
        decode_training_arrays(pickled, "0" * 64)
    floats = _npz_payload(**{**good, "x_train": good["x_train"].astype(np.float64)})
    with pytest.raises(PayloadError, match="dtype float64"):
        decode_training_arrays(floats, "0" * 64)
    extra = _npz_payload(**good, evil=np.zeros(1))
    with pytest.raises(PayloadError, match="expected exactly"):
        decode_training_arrays(extra, "0" * 64)
    with pytest.raises(PayloadError, match="base64"):
        decode_training_arrays(Payload(data="not base64!"), "0" * 64)


def test_weights_round_trip_in_order():
    weights = [np.ones((3, 2), np.float32), np.zeros(2, np.float32), np.full((2, 1), 7, np.float32)]
    back = decode_weights(encode_weights(weights))
    assert [w.shape for w in back] == [(3, 2), (2,), (2, 1)] and back[2][0, 0] == 7


# ----------------------------------------------------------------------------- pruning thresholds


def _study_with(completed: list[list[float]], n_startup: int, warmup: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize",
                                pruner=SchedulableMedianPruner(MedianRule(n_startup_trials=n_startup,
                                                                          n_warmup_steps=warmup)))
    for values in completed:
        study.add_trial(optuna.trial.create_trial(
            params={}, distributions={}, value=values[-1],
            intermediate_values={step: v for step, v in enumerate(values, start=1)}))
    return study


def _optuna_prunes_at(study: optuna.Study, values: list[float]):
    trial = study.ask()
    for epoch, value in enumerate(values, start=1):
        trial.report(value, epoch)
        if epoch < len(values) and trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return epoch
    study.tell(trial, values[-1])
    return None


def _worker_stops_at(schedule, values):
    import threading

    reporter = ScheduleReporter(schedule, len(values), lambda record: None, threading.Event())
    for epoch, value in enumerate(values, start=1):
        try:
            reporter.report(EpochRecord(epoch=epoch, loss=1, accuracy=0.5, val_loss=1, val_accuracy=value, seconds=1))
        except optuna.TrialPruned:
            return epoch
    return None


@pytest.mark.parametrize("warmup", [0, 1, 2])
def test_worker_thresholds_prune_exactly_where_the_median_pruner_does(warmup):
    rng = np.random.default_rng(warmup)
    completed = [list(np.sort(rng.uniform(0.3, 0.9, 4))) for _ in range(3)]
    outcomes = set()
    for _ in range(25):
        candidate = list(rng.uniform(0.1, 0.95, 4))
        study = _study_with(completed, n_startup=2, warmup=warmup)
        schedule = pruning_schedule(study, epochs=4)
        expected = _optuna_prunes_at(study, candidate)
        assert _worker_stops_at(schedule, candidate) == expected
        outcomes.add(expected)
    assert None in outcomes and len(outcomes) > 1  # both kept and pruned candidates were checked


def test_no_thresholds_before_startup_trials_or_without_a_percentile_pruner():
    assert pruning_schedule(_study_with([[0.5, 0.6]], n_startup=2, warmup=0), epochs=2) is None
    hyperband = optuna.create_study(direction="maximize", pruner=optuna.pruners.HyperbandPruner())
    assert pruning_schedule(hyperband, epochs=3) is None
    plain_median = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=0))
    assert pruning_schedule(plain_median, epochs=3) is None  # its rule is private: no guessing it
    schedule = pruning_schedule(_study_with([[0.5, 0.6, 0.7]] * 2, n_startup=2, warmup=0), epochs=3)
    assert schedule.thresholds == [0.5, 0.6]  # never at the last epoch
    assert schedule.should_stop(1, 0.4) and not schedule.should_stop(1, 0.5) and not schedule.should_stop(3, 0.0)


# ----------------------------------------------------------------------------- sampling


def test_sample_is_stratified_shuffled_seeded_and_keeps_validation():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    index = sample_indices(y, 0.3, seed=3)
    assert np.array_equal(np.bincount(y[index]), [30, 15, 9, 6])
    assert not np.all(np.diff(index) > 0)  # shuffled
    assert np.array_equal(index, sample_indices(y, 0.3, seed=3))
    data = _arrays(n=90)
    sample = sample_training(data, 0.5, seed=0)
    assert len(sample.y_train) == 45 and sample.x_val is data.x_val
    assert len(sample_indices(y, 0.1, seed=0, stratified=False)) == 20


# ----------------------------------------------------------------------------- endpoint and transport


def test_endpoint_from_url_id_or_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no ./.env or gpu-proxy/.env of a developer's
    assert resolve_endpoint("http://127.0.0.1:9/", {}).base_url == "http://127.0.0.1:9"
    runpod = resolve_endpoint(None, {"RUNPOD_ENDPOINT_ID": "abc123", "RUNPOD_API_KEY": SECRET})
    assert runpod.base_url == "https://api.runpod.ai/v2/abc123" and runpod.source == "RUNPOD_ENDPOINT_ID"
    assert runpod.headers()["authorization"] == f"Bearer {SECRET}" and SECRET not in repr(runpod)
    with pytest.raises(EndpointConfigError, match="RUNPOD_API_KEY"):
        resolve_endpoint("abc123", {})
    with pytest.raises(EndpointConfigError, match="gpu_proxy_endpoint"):
        resolve_endpoint(None, {})


def test_reachability_verdicts_on_runpod_and_elsewhere():
    runpod = Endpoint("https://api.runpod.ai/v2/abc123", "RUNPOD_ENDPOINT_ID", api_key=SECRET)
    local = Endpoint("http://127.0.0.1:8011", "gpu_proxy_endpoint")
    body = json.dumps({"jobs": {"inQueue": 0, "inProgress": 1}, "workers": {"idle": 1, "running": 1}}).encode()
    assert classify(runpod, 200, body) == Reachability(True, "workers idle 1, running 1; jobs inQueue 0, inProgress 1",
                                                       200)
    assert classify(local, 404).reachable and classify(local, 404).detail is None  # the SDK's server: up
    assert not classify(runpod, 404).reachable and "RUNPOD_ENDPOINT_ID" in classify(runpod, 404).detail
    refused = classify(runpod, 401)
    assert refused.reachable and "refused the API key" in refused.detail and SECRET not in refused.detail
    assert "no RUNPOD_API_KEY was found" in classify(local, 403).detail
    assert not classify(local, 503).reachable and classify(local, 429).reachable


def _client(handler, **kwargs) -> GpuProxyClient:
    endpoint = Endpoint("https://proxy.test/v2/x", "test", api_key=SECRET)
    http = httpx.Client(transport=httpx.MockTransport(handler), headers=endpoint.headers())
    return GpuProxyClient(endpoint, max_request_bytes=kwargs.pop("max_bytes", 10_000_000), policy=FAST,
                          http_client=http)


def test_retries_429_and_5xx_then_succeeds():
    calls = []

    def handler(request):
        calls.append(request.headers["authorization"])
        if len(calls) < 3:
            return httpx.Response(503 if len(calls) == 1 else 429, headers={"retry-after": "0"})
        return httpx.Response(200, json={"jobs": {}, "workers": {"idle": 1}})

    assert _client(handler).transport.request("GET", "/health", idempotent=True).status_code == 200
    assert len(calls) == 3 and calls[0] == f"Bearer {SECRET}"


def test_giving_up_names_the_url_but_never_the_key(caplog):
    def handler(request):
        raise httpx.ConnectError(f"refused (key {SECRET})")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(GpuProxyUnavailable) as error:
        _client(handler).transport.request("POST", "/run", content=b"{}", idempotent=False)
    assert "https://proxy.test/v2/x/run failed 3 time(s)" in str(error.value)
    assert SECRET not in str(error.value) and SECRET not in caplog.text


def test_a_request_over_the_size_limit_says_what_to_do():
    transport = Transport(Endpoint("http://x", "test"), max_request_bytes=1000, client=httpx.Client())
    with pytest.raises(PayloadTooLarge) as error:
        transport.encode({"input": {"blob": "x" * 2000}}, "trial")
    message = str(error.value)
    for advice in ("built-in dataset", "gpu_proxy_sample_percentage", "use_gpu_proxy=false"):
        assert advice in message


# ----------------------------------------------------------------------------- fallback decisions


class _FakeLocal:
    def __init__(self):
        self.calls = 0

    def run(self, spec, data, reporter):
        self.calls += 1
        return TrialResult(history=[], status="complete", val_accuracy=0.5, best_epoch=1, param_count=1,
                           train_seconds=0.1)


def _failing_executor(fallback: bool) -> tuple[GpuProxyExecutor, _FakeLocal]:
    local = _FakeLocal()
    client = _client(lambda request: httpx.Response(502))
    return GpuProxyExecutor(client, DataLink(None), fallback_local=fallback, local=local), local


def test_failing_endpoint_falls_back_locally_with_one_warning(caplog):
    from hpopt.spec import TrialSpec

    executor, local = _failing_executor(fallback=True)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert executor.run(TrialSpec.model_validate(SPEC), _arrays(), None).execution == "local"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert local.calls == 3 and len(warnings) == 1
    assert "training locally" in warnings[0].getMessage() and SECRET not in caplog.text


def test_failing_endpoint_without_fallback_stops_the_run():
    from hpopt.spec import TrialSpec

    executor, local = _failing_executor(fallback=False)
    with pytest.raises(GpuProxyRunStopped) as error:
        executor.run(TrialSpec.model_validate(SPEC), _arrays(), None)
    assert error.value.stops_run and error.value.exit_code == 1 and local.calls == 0
    assert "gpu_proxy_fallback_local" in str(error.value) and "HTTP 502" in str(error.value)


def test_data_over_the_size_limit_trains_locally_with_advice_once(caplog):
    from hpopt.spec import TrialSpec

    local = _FakeLocal()
    client = _client(lambda request: httpx.Response(500), max_bytes=2000)  # the endpoint is never reached
    executor = GpuProxyExecutor(client, DataLink(None), fallback_local=True, local=local)
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        executor.run(TrialSpec.model_validate(SPEC), _arrays(), None)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert local.calls == 2 and "gpu_proxy_sample_percentage" in warning and "over the endpoint's" in warning


def test_environment_switches_work_as_documented():
    config = load_config([], environ={"HYPEROPT_USE_GPU_PROXY": "true", "HYPEROPT_GPU_PROXY_AUTO_CLONE": "false",
                                      "HYPEROPT_GPU_PROXY_FALLBACK": "false"}, env_file=None)
    assert config.use_gpu_proxy and not config.gpu_proxy_auto_clone and not config.gpu_proxy_fallback_local


# ----------------------------------------------------------------------------- discovery and status


HPOPT_HANDLER = "from hpopt.gpu_proxy.worker import Worker\n"
# The shape of the original system's worker: it runs whatever code a request carries.
ORIGINAL_HANDLER = "import runpod\n\ndef handler(job):\n    exec(job['input']['code'])\n"


def test_a_checkout_of_the_original_worker_is_skipped_with_one_warning(tmp_path, caplog):
    original, ours = tmp_path / "a" / "gpu-proxy", tmp_path / "b" / "gpu-proxy"
    for folder, text in ((original, ORIGINAL_HANDLER), (ours, HPOPT_HANDLER)):
        folder.mkdir(parents=True)
        (folder / "handler.py").write_text(text)
    caplog.set_level(logging.WARNING)
    config = load_config([], environ={}, env_file=None)
    assert locate_proxy_code(config, search_dirs=[original, ours]).path == str(ours)
    assert locate_proxy_code(config, search_dirs=[original, ours]).path == str(ours)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(original) in warning and "not hpopt's" in warning and "gpu-proxy/README.md" in warning
    off = load_config(["gpu_proxy_auto_clone=false"], environ={}, env_file=None)
    with pytest.raises(ProxyCodeError, match="is not at"):
        locate_proxy_code(off, search_dirs=[original])


def _proxy_repo(path):
    import git

    repo = git.Repo.init(path)
    (path / "gpu-proxy").mkdir()
    (path / "gpu-proxy" / "handler.py").write_text(HPOPT_HANDLER)
    repo.index.add(["gpu-proxy/handler.py"])
    first = repo.index.commit("worker").hexsha
    (path / "README.md").write_text("later\n")
    repo.index.add(["README.md"])
    repo.index.commit("later")
    return first


def test_worker_code_is_found_locally_or_cloned_at_a_pinned_commit(tmp_path):
    local = tmp_path / "checkout" / "gpu-proxy"
    local.mkdir(parents=True)
    (local / "handler.py").write_text(HPOPT_HANDLER)
    found = locate_proxy_code(load_config([], environ={}, env_file=None), search_dirs=[tmp_path / "x", local])
    assert found.source == "local" and found.path == str(local)

    first = _proxy_repo(tmp_path / "origin")
    config = load_config([f"gpu_proxy_repo_url={tmp_path / 'origin'}", f"gpu_proxy_ref={first}"], environ={},
                         env_file=None)
    cloned = locate_proxy_code(config, search_dirs=[tmp_path / "none"], clone_root=tmp_path / "clones")
    assert cloned.source == "cloned" and cloned.commit == first and cloned.path.endswith("gpu-proxy")
    assert not (tmp_path / "clones" / cloned.path / ".." / "README.md").exists()  # the pinned commit, not HEAD
    again = clone_proxy_code(str(tmp_path / "origin"), first, tmp_path / "clones")  # reuses the verified clone
    assert again == cloned
    with pytest.raises(ProxyCodeError, match="gpu_proxy_ref"):
        clone_proxy_code(str(tmp_path / "origin"), "f" * 40, tmp_path / "clones")
    off = load_config(["gpu_proxy_auto_clone=false"], environ={}, env_file=None)
    with pytest.raises(ProxyCodeError, match="gpu_proxy_auto_clone"):
        locate_proxy_code(off, search_dirs=[tmp_path / "none"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_proxy_status_reports_without_raising(monkeypatch, tmp_path):
    monkeypatch.delenv("RUNPOD_ENDPOINT_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    status = proxy_status(load_config([], environ={}, env_file=None))
    assert status["state"] == "disabled" and not status["enabled"] and "gpu_proxy_endpoint" in status["error"]
    monkeypatch.setenv("RUNPOD_API_KEY", SECRET)
    config = load_config(["use_gpu_proxy=true", f"gpu_proxy_endpoint=http://127.0.0.1:{_closed_port()}"],
                         environ={}, env_file=None)
    status = proxy_status(config, timeout_s=2)
    assert status["state"] == "unreachable" and status["reachable"] is False and status["enabled"]
    assert SECRET not in json.dumps(status)
    assert proxy_status(config, probe=False)["state"] == "unchecked"


def test_system_info_reads_gpu_name_and_memory_from_nvidia_smi(monkeypatch):
    import subprocess

    from hpopt.gpu_proxy import worker as worker_module

    monkeypatch.setattr(worker_module.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(worker_module.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout="NVIDIA H200, 143771, 0\n"))  # the real output of an H200 machine
    assert worker_module.gpu_details() == [{"name": "NVIDIA H200", "memory_total_mb": 143771, "memory_used_mb": 0}]


def test_nan_metrics_survive_the_json_round_trip():
    from hpopt.gpu_proxy.records import epoch_record
    from hpopt.gpu_proxy.worker import plain

    raw = json.loads(json.dumps(plain({"epoch": 1, "loss": float("nan"), "accuracy": 0.1, "val_loss": float("inf"),
                                       "val_accuracy": 0.2, "seconds": 1.0, "health": {"x": np.float32(2)}})))
    record = epoch_record(raw)
    assert math.isnan(record.loss) and math.isnan(record.val_loss) and record.health == {"x": 2.0}
