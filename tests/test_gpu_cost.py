"""GPU cost per trial and per run: two local workers priced 1.0 and 3.0 USD/h by an endpoints file.

Billed seconds are the endpoint's executionTime when its status reports one (RunPod), else the
time from submit to result (the SDK's local server reports none); cost_usd = billed_s x price / 3600
in each trial's record, summed in summary.json, report.md and trials.csv.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gpu_cost_helpers import CHEAP_USD_H, cost_config, endpoints_file, summary_of

from hpopt.config import ConfigError, load_config
from hpopt.gpu_proxy.endpoint import Endpoint
from hpopt.gpu_proxy.jobs import RemoteJob
from hpopt.gpu_proxy.pricing import price_for_gpu, price_from_system_info
from hpopt.gpu_proxy.transport import RetryPolicy, Transport
from hpopt.runner import run_optimization

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def priced_run(priced_workers, tmp_path_factory):
    """gpu_tier=fixed: every trial on the first endpoint of the file, "cheap" at 1.0 USD/h."""
    folder = tmp_path_factory.mktemp("cost")
    config = cost_config(folder / "results", endpoints_file(folder, priced_workers), "run_name=cost", "trials=2")
    return run_optimization(config)


def test_each_trial_records_its_cost_from_its_billed_seconds(priced_run):
    trials = summary_of(priced_run)["trials"]
    assert [t["execution"] for t in trials] == ["gpu_proxy"] * 2
    for trial in trials:
        assert trial["endpoint"] == "cheap" and trial["billed_s"] > 0
        assert trial["cost_usd"] == trial["billed_s"] * CHEAP_USD_H / 3600  # the same recorded numbers
        # measured from submit to result: at least the training the worker reported
        assert trial["billed_s"] >= trial["train_seconds"] * 0.99, trial
    print("billed:", [(t["billed_s"], t["cost_usd"]) for t in trials])


def test_run_totals_in_summary_report_and_csv(priced_run):
    summary = summary_of(priced_run)
    costs = [t["cost_usd"] for t in summary["trials"]]
    assert summary["cost_usd_total"] == pytest.approx(sum(costs), rel=1e-12)
    cheap = summary["cost_by_endpoint"]["cheap"]
    assert set(summary["cost_by_endpoint"]) == {"cheap"}
    assert cheap["trials"] == 2 and cheap["cost_usd"] == pytest.approx(sum(costs), rel=1e-12)
    assert cheap["billed_s"] == pytest.approx(sum(t["billed_s"] for t in summary["trials"]), abs=1e-3)
    assert "budget" not in summary and summary["stopped_reason"] is None
    report = (priced_run / "report.md").read_text()
    assert "## GPU cost" in report and f"**{summary['cost_usd_total']:.6f} USD**" in report
    assert f"| cheap | 2 | {cheap['billed_s']:.3f} | {cheap['cost_usd']:.6f} |" in report
    with (priced_run / "trials.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["cost_usd"]) for r in rows] == pytest.approx(costs, rel=1e-9)
    assert {r["endpoint"] for r in rows} == {"cheap"}
    from hpopt.cli_progress import gpu_cost_line

    assert gpu_cost_line(summary) == f"GPU cost: {summary['cost_usd_total']:.4f} USD"
    assert gpu_cost_line({"trials": [], "cost_usd_total": 0, "cost_by_endpoint": {}}) is None  # a local run


def test_a_local_run_has_no_cost(tmp_path):
    from hpopt.cost_summary import cost_section

    config = load_config({"results_dir": str(tmp_path)}, environ={}, env_file=None)
    rows = [{"number": 0, "endpoint": None, "cost_usd": None, "billed_s": None}]
    assert cost_section(rows, config, {}) == {"cost_usd_total": 0, "cost_by_endpoint": {}}


# ----------------------------------------------------------------------------- billed seconds


def _job(responses: list[dict]) -> RemoteJob:
    """A job read through a fake RunPod endpoint answering ``responses`` in turn (GET reads)."""
    answers = iter(responses)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=next(answers))

    transport = Transport(Endpoint("https://api.runpod.ai/v2/abc", "test", api_key="k"), RetryPolicy(attempts=1),
                          max_request_bytes=1000, client=httpx.Client(transport=httpx.MockTransport(answer)))
    job = RemoteJob(transport, "job1", time.monotonic() + 30)
    job.seen = seen  # type: ignore[attr-defined]
    return job


def test_runpod_execution_time_is_what_is_billed():
    done = {"status": "COMPLETED", "stream": [{"output": {"type": "result"}}]}
    job = _job([done, {"id": "job1", "status": "COMPLETED", "executionTime": 12345, "delayTime": 900}])
    assert [o["type"] for o in job.outputs()] == ["result"]
    assert job.execution_ms == 12345 and job.seen[-1] == "/v2/abc/status/job1"  # type: ignore[attr-defined]
    # carried by the stream answer itself: no status request
    job = _job([dict(done, executionTime=2500)])
    list(job.outputs())
    assert job.execution_ms == 2500 and len(job.seen) == 1  # type: ignore[attr-defined]


def test_without_execution_time_the_job_has_none():
    job = _job([{"status": "COMPLETED", "stream": []}, {"id": "job1", "status": "COMPLETED"}])
    list(job.outputs())
    assert job.execution_ms is None  # the executor then bills submit-to-result time


# ----------------------------------------------------------------------------- prices and the file


def test_price_table_by_gpu_name():
    assert price_for_gpu("NVIDIA A100 80GB PCIe") == pytest.approx(0.00076 * 3600)
    assert price_for_gpu("NVIDIA GeForce RTX 4090") == pytest.approx(0.00031 * 3600)
    assert price_for_gpu("NVIDIA L40S") == pytest.approx(0.00053 * 3600)
    assert price_for_gpu("NVIDIA L4") == pytest.approx(0.00019 * 3600)
    assert price_for_gpu("Some Future GPU") is None
    assert price_from_system_info({"gpus": []}) == (None, None)  # a CPU worker: no price
    assert price_from_system_info({"gpus": [{"name": "NVIDIA H100 80GB HBM3"}] * 2})[0] == pytest.approx(
        2 * 0.00116 * 3600)


@pytest.mark.parametrize("content, message", [
    ("- {name: a}\n", "endpoint 'a': endpoint is missing"),
    ("- {name: a, endpoint: x1, usd_per_hour: -1}\n", "usd_per_hour=-1 is not allowed: expected a number ≥ 0"),
    ("- {name: a, endpoint: x1, memory: 3}\n", "unknown key 'memory': allowed name, endpoint, usd_per_hour, memory_gb"),
    ("- {name: a, endpoint: x1}\n- {name: a, endpoint: x2}\n", "endpoint 'a' is listed twice"),
    ("endpoints: []\n", "expected a non-empty list of endpoints"),
    ("[unclosed\n", "not valid YAML"),
])
def test_a_bad_endpoints_file_is_one_line_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "endpoints.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_config({"gpu_proxy_endpoints": str(path)}, environ={}, env_file=None)
    text = str(error.value)
    assert "gpu_proxy_endpoints" in text and message in text and str(path) in text and "\n" not in text


def test_price_keys_are_checked(tmp_path):
    path = tmp_path / "endpoints.yaml"
    path.write_text("- {name: a, endpoint: http://127.0.0.1:9}\n")
    for settings, message in (
        ({"gpu_proxy_usd_per_hour": "-0.5"}, "gpu_proxy_usd_per_hour"),
        ({"gpu_budget_usd": "-1"}, "gpu_budget_usd"),
        ({"gpu_tier": "cheapest"}, "gpu_tier"),
        ({"gpu_proxy_endpoints": str(path), "gpu_proxy_endpoint": "http://x"}, "both set"),
        ({"gpu_proxy_endpoints": str(path), "gpu_proxy_usd_per_hour": "1"}, "in the file"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(settings, environ={}, env_file=None)
    assert load_config({"gpu_proxy_usd_per_hour": "0.69"}, environ={}, env_file=None).gpu_proxy_usd_per_hour == 0.69


def test_cli_exits_2_on_a_bad_endpoints_file(tmp_path):
    path = tmp_path / "endpoints.yaml"
    path.write_text("- {name: 'bad name!', endpoint: x}\n")
    done = subprocess.run([sys.executable, str(REPO / "src" / "optimizer.py"), f"gpu_proxy_endpoints={path}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "name='bad name!' is not allowed" in done.stderr, done.stderr


def test_an_api_request_cannot_name_an_endpoints_file(tmp_path):
    from hpopt.api.optimize_request import RequestError, config_from_body

    with pytest.raises(RequestError) as error:
        config_from_body({"dataset": "digits", "gpu_proxy_endpoints": "/etc/passwd"}, tmp_path, env_file=None)
    assert error.value.key == "gpu_proxy_endpoints" and "operator setting" in str(error.value)


def test_the_dashboard_shows_the_running_and_final_cost(priced_run):
    """The job view's progress carries the running total (the header shows it live); the finished run's
    card shows summary.json's total."""
    from types import SimpleNamespace

    from hpopt.api.run_summary import run_summary
    from hpopt.jobs.views import _cost_total

    summary = summary_of(priced_run)
    rows = summary["trials"]
    assert _cost_total(rows[:1]) == rows[0]["cost_usd"]  # one trial finished: its cost so far
    assert _cost_total(rows) == pytest.approx(summary["cost_usd_total"], rel=1e-12)
    assert _cost_total([{"number": 0, "cost_usd": None}]) is None  # a local run shows no cost
    record = SimpleNamespace(terminal=True, job_id="j1", status="completed", run_name="cost")
    card = run_summary(record, summary, priced_run)
    assert card["cost_usd_total"] == summary["cost_usd_total"] and card["budget"] is None
    source = (REPO / "src" / "hpopt" / "api" / "dashboard" / "job.js").read_text()
    assert "GPU cost $" in source and "row.cost_usd" in source


def test_proxy_status_names_the_first_endpoint_of_the_file(tmp_path):
    from hpopt.gpu_proxy import proxy_status

    path = tmp_path / "endpoints.yaml"
    path.write_text("- {name: a, endpoint: 'http://127.0.0.1:9/'}\n- {name: b, endpoint: 'http://127.0.0.1:10'}\n")
    config = load_config({"use_gpu_proxy": "true", "gpu_proxy_endpoints": str(path)}, environ={}, env_file=None)
    status = proxy_status(config, probe=False)
    assert status["state"] == "unchecked" and status["endpoint"] == "http://127.0.0.1:9", status


def test_an_unpriced_endpoint_is_priced_from_its_workers_gpu_once():
    from hpopt.gpu_proxy.routes import Route

    class Client:
        calls = 0

        def system_info(self):
            Client.calls += 1
            return {"gpus": [{"name": "NVIDIA A100-SXM4-80GB", "memory_total_mb": 81920}]}

    route = Route("a100", Client())  # type: ignore[arg-type]
    assert route.price() == route.price() == pytest.approx(0.00076 * 3600) and Client.calls == 1
    assert Route("set", Client(), usd_per_hour=0.5).price() == 0.5 and Client.calls == 1  # type: ignore[arg-type]
