"""Unit tests of the API's parts: settings, request validation, job store, event log,
live state, outcomes, file safety, the kill-after-grace path and restart recovery.

No TensorFlow: job processes are stand-ins (a Python one-liner) where one is needed.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from api_helpers import SRC, clean_env

from hpopt.api.files import UnsafePath, list_files, safe_file, zip_stream
from hpopt.api.optimize_request import RequestError, config_from_body
from hpopt.api.settings import SettingsError, load_settings
from hpopt.config import ConfigError, load_config
from hpopt.jobs.event_log import EventTail, EventWriter
from hpopt.jobs.live_state import JobLive, best_of, trends_of
from hpopt.jobs.store import JobRecord, JobStore, utc_now
from hpopt.jobs.supervisor import Supervisor


def test_settings_layering_and_errors(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("HYPEROPT_PORT=9000\nHYPEROPT_MAX_CONCURRENT_JOBS=3\n")
    settings = load_settings(["port=9100"], environ={"HYPEROPT_MAX_CONCURRENT_JOBS": "2",
                                                     "HYPEROPT_API_KEY": "k3y"}, env_file=str(env_file))
    assert (settings.port, settings.max_concurrent_jobs, settings.host) == (9100, 2, "127.0.0.1")
    assert settings.api_key.get_secret_value() == "k3y" and "k3y" not in repr(settings)
    with pytest.raises(SettingsError, match="did you mean 'max_concurrent_jobs'"):
        load_settings(["max_concurent_jobs=2"], environ={}, env_file=None)
    with pytest.raises(SettingsError, match="HYPEROPT_API_KEY only"):
        load_settings(["api_key=abc"], environ={}, env_file=None)
    with pytest.raises(SettingsError, match="port"):
        load_settings(["port=70000"], environ={}, env_file=None)
    assert load_settings(["cors_origins=https://a.example, https://b.example"], environ={},
                         env_file=None).cors_origins == ("https://a.example", "https://b.example")
    with pytest.raises(SettingsError, match=r"job_nice='99' is not valid \(set by HYPEROPT_JOB_NICE in .*\.env\)"):
        env_file.write_text("HYPEROPT_JOB_NICE=99\n")
        load_settings([], environ={}, env_file=str(env_file))
    with pytest.raises(SettingsError, match="port given twice"):
        load_settings(["port=1", "port=2"], environ={}, env_file=None)


def test_server_settings_are_not_mistaken_for_misspelt_run_settings(caplog):
    """The run config and the server read the same HYPEROPT_* variables: the config must know every
    server variable as "not mine" rather than warn that it is a misspelt run setting."""
    from hpopt.api.settings import SETTING_KEYS
    from hpopt.config import load_config

    caplog.set_level("WARNING", logger="hpopt.config")
    load_config([], environ={f"HYPEROPT_{key.upper()}": "1" for key in SETTING_KEYS}, env_file=None)
    assert not caplog.records


@pytest.mark.parametrize("body, key", [
    ({"trails": 3}, "trails"), ({"trials": 0}, "trials"), ({"mode": "pareto", "optimize_for": "accuracy"}, "optimize_for"),
    ({"health_weight": 2}, "health_weight"), ({"dataset": "mnistt"}, "dataset"), ({"activation": "tanh"}, "activation"),
])
def test_request_errors_are_the_clis(tmp_path, body, key):
    with pytest.raises(RequestError) as api_error:
        config_from_body(body, tmp_path, env_file=None)
    with pytest.raises(ConfigError) as cli_error:
        load_config([f"{k}={v}" for k, v in body.items()], environ={}, env_file=None)
    assert api_error.value.key == key and str(api_error.value) == str(cli_error.value)


def test_request_shapes(tmp_path):
    seed = config_from_body({"dataset_name": "digits", "mode": "health", "optimize_for": "overall_health",
                             "trials": 4, "health_weight": 0.5, "config_overrides": {"max_epochs": "3", "min_epochs_per_trial": 1}},
                            tmp_path, env_file=None)
    flat = config_from_body({"dataset": "digits", "mode": "health", "optimize_for": "overall_health", "trials": "4",
                             "health_weight": "0.5", "max_epochs_per_trial": 3, "min_epochs_per_trial": "1"}, tmp_path, env_file=None)
    assert seed == flat and seed.results_dir == str(tmp_path)
    for body, key in (({"dataset_name": "digits", "dataset": "digits"}, "dataset"),
                      ({"trials": 2, "config_overrides": {"trials": 3}}, "trials"),
                      ({"results_dir": "/tmp"}, "results_dir"), ({"run_name": ".hidden"}, "run_name"),
                      ({"storage": "sqlite:////etc/x.db"}, "storage"), ({"config_overrides": [1]}, "config_overrides")):
        with pytest.raises(RequestError) as error:
            config_from_body(body, tmp_path, env_file=None)
        assert error.value.key == key
    with pytest.raises(RequestError):
        config_from_body([1, 2], tmp_path, env_file=None)


def test_store_persists_and_reloads(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    now = utc_now()
    store.add(JobRecord("a1", "pending", "run_a", {"trials": 3}, now, now, queued_at=now))
    store.add(JobRecord("b2", "pending", "run_b", {"trials": 1}, now, now, queued_at=now))
    store.update("a1", status="running", attempts=1, pid=123, stop_requested=True, config={"trials": 5})
    store.delete("b2")
    store.close()
    again = JobStore(tmp_path / "jobs.db")
    record = again.get("a1")
    assert (record.status, record.attempts, record.pid, record.stop_requested, record.config) == (
        "running", 1, 123, True, {"trials": 5})
    assert again.get("b2") is None and again.by_run_name("run_a").job_id == "a1"


def test_event_tail_waits_for_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert list(tail.read_new()) == []
    with path.open("w") as handle:
        handle.write('{"type": "a"}\n{"type": "b", "x"')
    assert [e["type"] for e in tail.read_new()] == ["a"]
    with path.open("a") as handle:
        handle.write(': 1}\nnot json\n')
    assert list(tail.read_new()) == [{"type": "b", "x": 1}]
    writer = EventWriter(path)
    writer.write("epoch", trial=0, record={"val_accuracy": float("nan")})
    writer.close()
    assert list(tail.read_new())[0]["record"] == {"val_accuracy": None}


def test_live_state_and_trends(tmp_path):
    live = JobLive(tmp_path / "missing.jsonl")
    for event in ({"type": "job_started", "attempt": 1, "directions": ["minimize"]},
                  {"type": "trial_started", "trial": 0, "params": {"epochs": 2}},
                  {"type": "epoch", "trial": 0, "record": {"epoch": 1}}):
        live.apply(event)
    assert live.current["epochs"] == [{"epoch": 1}] and live.direction == "minimize"
    rows = [{"number": 0, "state": "complete", "value": 5.0}, {"number": 1, "state": "pruned", "value": None},
            {"number": 2, "state": "complete", "value": 3.0}, {"number": 3, "state": "complete", "value": 4.0}]
    for row in rows:
        live.apply({"type": "trial_finished", "row": row})
    assert live.current is None and live.counts()["n_pruned"] == 1
    assert best_of(live.rows(), "minimize")["number"] == 2 and best_of(live.rows(), "maximize")["number"] == 0
    assert [p["best_value"] for p in trends_of(live.rows(), "minimize")] == [5.0, 5.0, 3.0, 3.0]
    live.apply({"type": "job_outcome", "outcome": "interrupted", "error": "stop"})
    assert live.outcome == {"outcome": "interrupted", "error": "stop"}


@pytest.mark.parametrize("outcome, stop, away, expected", [
    ("completed", False, False, "completed"), ("failed", False, False, "failed"),
    ("interrupted", True, False, "cancelled"), ("interrupted", False, True, "interrupted"),
    (None, True, False, "cancelled"), (None, False, True, "interrupted"), (None, False, False, "failed"),
])
def test_outcome_status(outcome, stop, away, expected):
    record = JobRecord("j", "running", "r", {}, "t", "t", stop_requested=stop)
    status, _ = Supervisor.outcome_status(record, {"outcome": outcome} if outcome else None, -9, away)
    assert status == expected


def test_file_paths_and_zip(tmp_path):
    root = tmp_path / "run"
    (root / "plots").mkdir(parents=True)
    (root / "a.json").write_text("{}")
    (root / "plots" / "p.png").write_bytes(b"png")
    (root / "half.json.tmp").write_text("partial")
    (tmp_path / "outside.txt").write_text("secret")
    (root / "out.txt").symlink_to(tmp_path / "outside.txt")
    for bad in ("../outside.txt", "/etc/passwd", "a%2e%2e", "x\\y", "a\x00", "", "plots/./p.png", "C:/x"):
        with pytest.raises(UnsafePath):
            safe_file(root, bad)
    assert safe_file(root, "out.txt") is None and safe_file(root, "nope.txt") is None
    assert safe_file(root, "plots/p.png") == (root / "plots" / "p.png").resolve()
    assert [f["path"] for f in list_files(root)] == ["a.json", "plots/p.png"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(root, "run"))))
    assert archive.namelist() == ["run/a.json", "run/plots/p.png"] and archive.read("run/plots/p.png") == b"png"
    (tmp_path / "job.log").write_text("log")  # beside the run folder: added under the name given, if present
    extra = {"job.log": tmp_path / "job.log", "a.json": tmp_path / "job.log", "gone.log": tmp_path / "gone.log"}
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(root, "run", extra))))
    assert archive.namelist() == ["run/a.json", "run/plots/p.png", "run/job.log"]
    assert archive.read("run/job.log") == b"log" and archive.read("run/a.json") == b"{}"


def _manager(tmp_path, **settings):
    from hpopt.api.settings import ApiSettings
    from hpopt.jobs.manager import JobManager

    return JobManager(ApiSettings(results_dir=tmp_path / "results", **settings))


def test_a_job_that_ignores_sigint_is_killed_after_the_grace(tmp_path, monkeypatch):
    from hpopt.jobs import launcher as proc

    def stubborn(cls, job_dir, attempt, nice, log_path, hard_stop_after):
        code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"
        popen = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        return cls(popen.pid, popen, job_dir / "job.lock")

    monkeypatch.setattr(proc.JobProcess, "start", classmethod(stubborn))

    async def scenario():
        manager = _manager(tmp_path, stop_grace_s=1.0, max_concurrent_jobs=1)
        await manager.start()
        record = manager.submit(config_from_body({"trials": 1}, manager.results_dir, env_file=None))
        assert manager.get(record.job_id).status == "running"
        await asyncio.sleep(0.5)
        manager.stop(record.job_id)
        for _ in range(100):
            await asyncio.sleep(0.1)
            if manager.get(record.job_id).terminal:
                break
        final = manager.get(record.job_id)
        await manager.shutdown()
        return final

    final = asyncio.run(scenario())
    assert final.status == "cancelled" and "killed" in final.error


def test_restart_settles_running_jobs_and_keeps_the_queue(tmp_path):
    results = tmp_path / "results"
    store = JobStore(results / "hpopt_jobs.db")
    now = utc_now()
    store.add(JobRecord("gone", "running", "run_gone", {"trials": 2}, now, now, attempts=1, pid=999999))
    store.add(JobRecord("done", "running", "run_done", {"trials": 2}, now, now, attempts=1))
    store.add(JobRecord("queued", "pending", "run_queued", {"trials": 2}, now, now, queued_at=now))
    store.close()
    events = results / ".hpopt_jobs" / "done" / "events.jsonl"
    events.parent.mkdir(parents=True)
    events.write_text('{"type": "job_started", "attempt": 1}\n{"type": "job_outcome", "outcome": "completed"}\n')

    async def scenario():
        manager = _manager(tmp_path, max_concurrent_jobs=0)
        await manager.start()
        statuses = {r.job_id: (r.status, r.error) for r in manager.store.all()}
        await manager.shutdown()
        return statuses

    statuses = asyncio.run(scenario())
    assert statuses["gone"][0] == "interrupted" and "resume" in statuses["gone"][1]
    assert statuses["done"] == ("completed", None)
    assert statuses["queued"] == ("pending", None)


def test_the_server_never_imports_tensorflow(tmp_path):
    code = f"""
import sys
from fastapi.testclient import TestClient
from hpopt.api.app import create_app
from hpopt.api.settings import ApiSettings
app = create_app(ApiSettings(results_dir=r"{tmp_path}", max_concurrent_jobs=0))
with TestClient(app) as client:
    for path in ("/health", "/datasets", "/modes", "/objectives", "/jobs", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    job = client.post("/optimize", json={{"trials": 1}}).json()
    assert client.get("/jobs/" + job["job_id"] + "/trials").status_code == 200
    assert client.delete("/jobs/" + job["job_id"]).status_code == 200
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("HEAVY", heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY []" in result.stdout, result.stdout[-2000:]


def test_api_server_help_and_bad_settings(tmp_path):
    server = str(SRC / "api_server.py")
    shown = subprocess.run([sys.executable, server, "--help"], capture_output=True, text=True, env=clean_env(),
                           cwd=tmp_path, timeout=60)
    assert shown.returncode == 0 and "max_concurrent_jobs" in shown.stdout and "HYPEROPT_API_KEY" in shown.stdout
    bad = subprocess.run([sys.executable, server, "prot=1"], capture_output=True, text=True, env=clean_env(),
                         cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "did you mean 'port'" in bad.stderr
    assert Path(server).read_text().count("import") < 6


def test_a_stop_waits_for_a_safe_point_then_escalates(tmp_path):
    """SIGINT only flags the stop; the next run event raises it, or the hard deadline does."""
    code = """
import os, signal, time
from hpopt.interrupts import StopController
soft = StopController(hard_after=30); soft.install()
os.kill(os.getpid(), signal.SIGINT)
time.sleep(0.2)
print("flagged", soft.requested(), soft.reason)
try:
    soft.check()
except KeyboardInterrupt:
    print("raised at the safe point")
os.kill(os.getpid(), signal.SIGINT)  # once delivered, a second signal cannot cut the results writing short
time.sleep(0.2)
hard = StopController(hard_after=0.3); hard.install()
os.kill(os.getpid(), signal.SIGINT)
try:
    time.sleep(5)
except KeyboardInterrupt:
    print("escalated after the deadline")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.splitlines() == ["flagged True interrupted", "raised at the safe point",
                                          "escalated after the deadline"], result.stdout + result.stderr
