"""The GPU proxy end to end: the real worker under the runpod SDK's local API server.

``python gpu-proxy/handler.py --rp_serve_api --rp_api_host 127.0.0.1 --rp_api_port N`` runs
in a subprocess (one shared by most tests; the kill test starts its own), and hpopt talks
to it exactly as to a RunPod endpoint given as a URL.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import keras
import numpy as np
import pytest
from gpu_worker_helpers import RunningWorker, free_port, running_worker

from hpopt.config import load_config
from hpopt.events import RunListener
from hpopt.executors import gpu_proxy as gpu_proxy_executor
from hpopt.executors.gpu_proxy import GpuProxyExecutor
from hpopt.gpu_proxy import GpuProxyRunStopped
from hpopt.gpu_proxy.data_link import DataLink
from hpopt.gpu_proxy.protocol import InlineData, PruningSchedule, TrainOptions, TrainRequest
from hpopt.runner import run_optimization
from hpopt.search_space import BASELINE_CNN
from hpopt.spec import CNNArchitecture, DataShape, TrialSpec
from hpopt.study import open_study
from hpopt.training import run_trial

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    with running_worker(tmp_path_factory.mktemp("worker")) as running:
        yield running


def _spec(digits, epochs: int = 2, seed: int = 7, **arch) -> TrialSpec:
    values = dict(conv_layers=1, filters=16, kernel_size=3, hidden_layers=1, hidden_units=32, hidden_shrink=1.0,
                  dropout=0.1, learning_rate=3e-3, batch_size=32, kernel_initializer="he_normal")
    values.update(arch)
    return TrialSpec(architecture=CNNArchitecture(**values), epochs=epochs, seed=seed,
                     data=DataShape(modality="image", input_shape=digits.input_shape, num_classes=10))


def _config(tmp_path, url: str, *args: str):
    settings = {"results_dir": str(tmp_path / "results"), "min_epochs_per_trial": "1", "max_epochs_per_trial": "2",
                "warm_start": "false", "plot_generation": "none", "use_gpu_proxy": "true",
                "gpu_proxy_endpoint": url, "n_startup_trials": "2", "n_warmup_steps": "0"}
    settings.update(arg.split("=", 1) for arg in args)
    return load_config(settings, environ={}, env_file=None)


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


# ----------------------------------------------------------------------------- the worker itself


def test_health_check_and_system_info(worker):
    client = worker.client()
    health = client.health()
    assert health["status"] == "ok" and health["protocol"] == 1 and health["concurrency"] == 2
    info = client.system_info()
    assert info["tensorflow_version"] and isinstance(info["gpus"], list) and info["python_version"]


def test_requests_with_code_or_unknown_fields_are_refused(worker, tmp_path, digits):
    marker = tmp_path / "pwned"
    spec = _spec(digits).model_dump(mode="json")
    data = {"source": "inline", "sha256": "0" * 64}
    for job_input in (
        {"operation": "train", "spec": spec, "data": data, "code": f"open({str(marker)!r}, 'w')"},
        {"operation": "train", "spec": {**spec, "model_fn": "lambda: None"}, "data": data},
        {"operation": "run_python", "source": f"open({str(marker)!r}, 'w')"},
    ):
        body = httpx.post(f"{worker.url}/runsync", json={"input": job_input}, timeout=60).json()
        [record] = body["output"]
        assert record["type"] == "error" and record["code"] == "invalid_input", record
    assert not marker.exists()


def test_same_spec_same_epochs_locally_and_through_the_proxy(worker, digits):
    spec = _spec(digits)
    link = DataLink(None)  # inline arrays: the worker trains on exactly these
    remote = GpuProxyExecutor(worker.client(), link, fallback_local=False).run(spec, digits, None)
    local = run_trial(spec, digits, None)
    assert remote.execution == "gpu_proxy" and remote.status == local.status == "complete"
    remote_acc = [r.val_accuracy for r in remote.history]
    local_acc = [r.val_accuracy for r in local.history]
    difference = max(abs(a - b) for a, b in zip(remote_acc, local_acc))
    print(f"local vs proxy per-epoch val_accuracy: max difference {difference:.2e}")
    assert len(remote_acc) == len(local_acc) == 2 and difference <= 1e-4
    weight_gap = max(float(np.abs(a - b).max()) for a, b in zip(remote.model.get_weights(), local.model.get_weights()))
    assert weight_gap <= 1e-4  # the client's model holds the worker's trained weights


def test_a_worker_without_the_data_asks_for_it(worker, digits):
    link = DataLink(None, sample_fraction=0.5, seed=3)  # a sample this worker has never seen
    link.payload_sent = True  # pretend another worker got it: the first request carries only the hash
    result = GpuProxyExecutor(worker.client(), link, fallback_local=False).run(_spec(digits, epochs=1), digits, None)
    assert result.status == "complete" and result.execution == "gpu_proxy"


def test_the_worker_stops_itself_below_the_pruning_thresholds(worker, digits):
    client = worker.client()
    link = DataLink(None)
    data = link.reference(digits)
    request = TrainRequest(spec=_spec(digits, epochs=3), data=data, options=TrainOptions(
        return_weights=True, pruning=PruningSchedule(thresholds=[1.01, 1.01])))
    records = list(client.submit_train(request, time.monotonic() + 300).outputs())
    assert [r["type"] for r in records] == ["epoch", "result"]
    result = records[-1]
    assert result["pruned_by_worker"] and result["result"]["status"] == "pruned"
    assert len(result["result"]["history"]) == 1 and result["weights"] is None
    again = TrainRequest(spec=_spec(digits, epochs=1), data=InlineData(sha256=data.sha256))  # cached: hash only
    assert list(client.submit_train(again, time.monotonic() + 300).outputs())[-1]["type"] == "result"


# ----------------------------------------------------------------------------- whole runs


def test_cli_run_trains_every_trial_on_the_worker(worker, tmp_path, digits):
    command = [sys.executable, str(REPO / "src" / "optimizer.py"), "dataset=digits", "trials=4",
               "use_gpu_proxy=true", f"gpu_proxy_endpoint={worker.url}", "max_epochs=2", "min_epochs_per_trial=1",
               f"results_dir={tmp_path / 'results'}", "run_name=proxy", "plot_generation=none"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HYPEROPT_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "results" / "proxy"
    assert done.stdout.strip().splitlines()[-1] == f"results: {run_dir}"
    summary = _summary(run_dir)
    remote_worker = worker.client().health()["worker"]
    assert [t["execution"] for t in summary["trials"]] == ["gpu_proxy"] * 4
    assert {t["worker"] for t in summary["trials"]} == {remote_worker}
    model = keras.saving.load_model(run_dir / "best_model.keras")
    _, accuracy = model.evaluate(digits.x_val.astype("float32"), digits.y_val, verbose=0)
    assert accuracy == pytest.approx(summary["best_trial"]["val_accuracy"], abs=1e-6)


def test_pruning_through_the_proxy(worker, tmp_path, monkeypatch):
    seen = []
    original = gpu_proxy_executor.trial_result
    monkeypatch.setattr(gpu_proxy_executor, "trial_result",
                        lambda output: seen.append(output) or original(output))
    good = dict(BASELINE_CNN, epochs=3, dropout=0.0, learning_rate=3e-3, batch_size=32)
    bad = dict(BASELINE_CNN, epochs=3, conv_layers=1, filters=16, hidden_units=64, dropout=0.5,
               learning_rate=1e-4, batch_size=128)
    # Two good trials complete (n_startup_trials=2), then a bad one that the median pruner stops;
    # one enqueued trial per (resumed) run, so each run trains exactly the trial we chose.
    for total, params in enumerate((good, dict(good, filters=16), bad), start=1):
        config = _config(tmp_path, worker.url, "run_name=prune", f"trials={total}", "min_epochs_per_trial=3",
                         "max_epochs_per_trial=3")
        open_study(config, "prune").enqueue_trial(params)
        summary = _summary(run_optimization(config))
    states = [t["state"] for t in summary["trials"]]
    assert states == ["complete", "complete", "pruned"], summary["trials"]
    pruned = summary["trials"][2]
    assert pruned["execution"] == "gpu_proxy" and pruned["epochs_run"] < 3
    assert [h["epoch"] for h in pruned["history"]] == list(range(1, pruned["epochs_run"] + 1))
    frozen = open_study(config, "prune").trials[2]
    assert sorted(frozen.intermediate_values) == list(range(1, pruned["epochs_run"] + 1))  # reported to Optuna
    worker_side = seen[-1]
    assert worker_side.pruned_by_worker and len(worker_side.result["history"]) == pruned["epochs_run"]


def test_two_trials_in_flight_at_once(worker, tmp_path):
    config = _config(tmp_path, worker.url, "run_name=parallel", "trials=2", "gpu_proxy_concurrency=2",
                     "min_epochs_per_trial=2", "pruner=none")
    trials = _summary(run_optimization(config))["trials"]
    assert [t["execution"] for t in trials] == ["gpu_proxy"] * 2
    latest_start = max(t["started_at"] for t in trials)
    earliest_finish = min(t["finished_at"] for t in trials)
    assert latest_start < earliest_finish, trials  # ISO 8601 UTC strings sort as times


class _KillOnSecondTrial(RunListener):
    def __init__(self, worker: RunningWorker) -> None:
        self.worker = worker

    def on_trial_started(self, number, params):
        if number == 1:
            self.worker.stop()


def test_worker_stopped_mid_run_falls_back_with_one_warning(tmp_path, caplog):
    with running_worker(tmp_path / "doomed") as doomed:
        config = _config(tmp_path, doomed.url, "run_name=fallback", "trials=3", "pruner=none")
        caplog.set_level(logging.WARNING)
        run_dir = run_optimization(config, _KillOnSecondTrial(doomed))
    summary = _summary(run_dir)
    trials = summary["trials"]
    assert [t["execution"] for t in trials] == ["gpu_proxy", "local", "local"]
    assert all(t["state"] == "complete" for t in trials)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "GPU proxy" in r.getMessage()]
    assert len(warnings) == 1 and "training locally" in warnings[0], warnings
    # the user sees it without the log: summary.json's warnings, report.md
    listed = [w for w in summary["warnings"] if "GPU proxy" in w["message"]]
    assert [w["message"] for w in listed] == warnings and listed[0]["logger"] == "hpopt.executors.gpu_proxy"
    assert summary["warnings_dropped"] == 0 and listed[0]["time"].endswith("Z")
    # and where the trials trained, and how fast, per place
    execution = summary["execution"]
    for place, count in (("gpu_proxy", 1), ("local", 2)):
        stats, mine = execution["places"][place], [t for t in trials if t["execution"] == place]
        assert stats["trials"] == count and stats["epochs"] == sum(t["epochs_run"] for t in mine)
        assert stats["train_seconds"] == pytest.approx(sum(t["train_seconds"] for t in mine), abs=1e-3)
        assert stats["seconds_per_epoch"] == pytest.approx(stats["train_seconds"] / stats["epochs"], rel=1e-3)
    speedup = execution["speedup"]
    assert speedup["per_epoch"] > 0 and speedup["per_sample"] > 0, execution
    report = (run_dir / "report.md").read_text()
    assert "## Where trials ran" in report and "| GPU proxy | 1 |" in report and "training locally" in report
    print("execution:", json.dumps(execution))


def test_worker_stopped_mid_run_without_fallback_stops_the_run(tmp_path):
    with running_worker(tmp_path / "doomed") as doomed:
        config = _config(tmp_path, doomed.url, "run_name=stopped", "trials=3", "pruner=none",
                         "gpu_proxy_fallback_local=false")
        with pytest.raises(GpuProxyRunStopped) as error:
            run_optimization(config, _KillOnSecondTrial(doomed))
    assert "gpu_proxy_fallback_local=true" in str(error.value) and doomed.url in str(error.value)
    trials = open_study(config, "stopped").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL"]  # no third trial was started
    assert trials[0].user_attrs["execution"] == "gpu_proxy" and "GPU proxy failed" in trials[1].user_attrs["failure"]


def test_without_fallback_an_unreachable_proxy_stops_the_run(tmp_path):
    config = _config(tmp_path, f"http://127.0.0.1:{free_port()}", "run_name=nofallback", "trials=2",
                     "gpu_proxy_fallback_local=false")
    with pytest.raises(GpuProxyRunStopped) as error:
        run_optimization(config)
    message = str(error.value)
    assert "GPU proxy failed" in message and "gpu_proxy_fallback_local=true" in message
    assert error.value.exit_code == 1


# The original system's worker, in the shape its guide deploys: it runs the code a request carries.
ORIGINAL_WORKER = """
import runpod


def handler(job):
    source = job["input"].get("code", "")
    scope = {}
    exec(source, scope)
    return {"success": True, "stdout": "", "result": scope.get("result")}


runpod.serverless.start({"handler": handler})
"""


def test_an_endpoint_running_the_original_worker_is_named_as_such(tmp_path):
    handler = tmp_path / "original" / "handler.py"
    handler.parent.mkdir()
    handler.write_text(ORIGINAL_WORKER)
    with running_worker(tmp_path / "original", handler=handler) as original:
        config = _config(tmp_path, original.url, "run_name=original", "trials=1", "gpu_proxy_fallback_local=false")
        with pytest.raises(GpuProxyRunStopped) as error:
            run_optimization(config)
    message = str(error.value)
    assert "original system's execute-code worker" in message and "gpu-proxy/README.md" in message, message
