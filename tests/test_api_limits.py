"""Operator limits and study ownership on a live server (issue 12, items 3 and 6).

Limits: what one request may ask of the machine (trials, epochs per trial, workers, queued
jobs) is the operator's; an exceeded one answers 422 (429 for the queue) naming the limit and
its value. Names: run_name and study_name may not name the server's own files. Studies: a job
may not attach to another job's study unless the operator allows sharing, and DELETE removes
only what the job owns.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from api_helpers import SERVER, SRC, TINY, ApiServer, clean_env, finished_trials, wait_status

TERMINAL = ("completed", "failed", "interrupted", "cancelled")
QUICK = {**TINY, "trials": 1, "max_epochs_per_trial": 1, "min_epochs_per_trial": 1}


@pytest.fixture(scope="module")
def queued(tmp_path_factory):
    """A server whose jobs only queue (nothing trains), with small limits."""
    work = tmp_path_factory.mktemp("limits")
    server = ApiServer(work, work / "results", "max_concurrent_jobs=0", "max_job_trials=20", "max_job_epochs=5",
                       "max_job_workers=2", "max_queued_jobs=3").start()
    with server.client() as client:
        yield server, client
    server.stop()


def _problem(answer) -> dict:
    assert answer.status_code == 422, (answer.status_code, answer.text)
    return answer.json()["detail"][0]


@pytest.mark.parametrize("key, value, limit", [
    ("trials", 21, "max_job_trials=20"),
    ("max_epochs_per_trial", 6, "max_job_epochs=5"),
    ("max_epochs", 6, "max_job_epochs=5"),
    ("workers", 3, "max_job_workers=2"),
])
def test_each_job_limit_answers_422_naming_it(queued, key, value, limit):
    _, client = queued
    body = {k: v for k, v in QUICK.items() if k != "max_epochs_per_trial" or key != "max_epochs"}
    problem = _problem(client.post("/optimize", json={**body, key: value}))
    assert limit in problem["msg"] and f"={value}" in problem["msg"], problem
    assert problem["loc"][-1] == ("max_epochs_per_trial" if key == "max_epochs" else key)
    at_limit = client.post("/optimize", json={**body, key: value - 1, "run_name": f"at_limit_{key}"})
    assert at_limit.status_code == 201, at_limit.text
    assert client.delete(f"/jobs/{at_limit.json()['job_id']}").status_code == 200


def test_huge_trials_are_refused_by_the_config_bound(queued):
    _, client = queued
    problem = _problem(client.post("/optimize", json={**QUICK, "trials": 10 ** 100}))
    assert problem["loc"] == ["body", "trials"] and "1000000" in problem["msg"], problem


@pytest.mark.parametrize("key, name", [
    ("run_name", "hpopt_studies.db"), ("run_name", "HPOPT_JOBS.db"), ("run_name", "hpopt_studies.db-wal"),
    ("run_name", "data"), ("run_name", "NUL"), ("study_name", "hpopt_studies.db"), ("study_name", "data"),
])
def test_reserved_names_answer_422(queued, key, name):
    _, client = queued
    problem = _problem(client.post("/optimize", json={**QUICK, key: name}))
    assert problem["loc"] == ["body", key] and name in problem["msg"] and "reserved" in problem["msg"], problem


def test_resume_beyond_the_trial_limit_answers_422(queued):
    _, client = queued
    job = client.post("/optimize", json={**QUICK, "run_name": "resume_limit"}).json()
    assert client.post(f"/jobs/{job['job_id']}/stop").status_code == 202
    problem = _problem(client.post(f"/jobs/{job['job_id']}/resume", json={"trials": 21}))
    assert "max_job_trials=20" in problem["msg"], problem
    assert client.delete(f"/jobs/{job['job_id']}").status_code == 200


def test_a_full_queue_answers_429_with_retry_after(queued):
    server, client = queued
    for job in client.get("/jobs", params={"status": "pending"}).json()["jobs"]:  # start from an empty queue
        client.post(f"/jobs/{job['job_id']}/stop")
    accepted = [client.post("/optimize", json=QUICK) for _ in range(3)]
    assert [a.status_code for a in accepted] == [201, 201, 201]
    refused = client.post("/optimize", json=QUICK)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "max_queued_jobs=3" in refused.json()["detail"]
    assert client.get("/jobs", params={"status": "pending"}).json()["total"] == 3
    stopped = client.post(f"/jobs/{accepted[0].json()['job_id']}/stop").json()
    assert client.post(f"/jobs/{stopped['job_id']}/resume").status_code == 202  # a free place again
    assert client.post("/optimize", json=QUICK).status_code == 429
    assert "Traceback" not in server.log()


def test_defaults_fit_the_machine():
    from hpopt.api.settings import load_settings

    settings = load_settings([], environ={}, env_file=None)
    assert (settings.max_job_trials, settings.max_job_epochs, settings.max_queued_jobs) == (1000, 200, 10)
    import os

    assert settings.max_job_workers == (os.cpu_count() or 1)
    assert settings.allow_shared_studies is False


def test_cli_trials_have_an_upper_bound(tmp_path):
    result = subprocess.run([sys.executable, str(SRC / "optimizer.py"), "trials=1000001"], cwd=tmp_path,
                            env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "trials ≤ 1000000" in result.stderr
    assert "Traceback" not in result.stderr


def _study_trials(results, study_name: str) -> int:
    with sqlite3.connect(results / "hpopt_studies.db") as db:
        row = db.execute("SELECT COUNT(*) FROM trials JOIN studies USING (study_id) WHERE study_name = ?",
                         (study_name,)).fetchone()
    return row[0]


def test_a_job_may_not_take_another_jobs_study(tmp_path):
    """Job B naming job A's study: 422 by default; with sharing allowed, deleting B keeps A's trials."""
    results = tmp_path / "results"
    server = ApiServer(tmp_path, results, "max_concurrent_jobs=1").start()
    try:
        with server.client() as client:
            a = client.post("/optimize", json={**QUICK, "run_name": "owner_a"}).json()
            assert wait_status(client, a["job_id"], TERMINAL, timeout=300)["status"] == "completed"
            for body in ({**QUICK, "study_name": "owner_a"}, {**QUICK, "run_name": "b", "study_name": "owner_a"}):
                problem = _problem(client.post("/optimize", json=body))
                assert problem["loc"] == ["body", "study_name"], problem
                assert "owner_a" in problem["msg"] and a["job_id"] in problem["msg"], problem
                assert "HYPEROPT_ALLOW_SHARED_STUDIES" in problem["msg"]
            assert client.get("/jobs").json()["total"] == 1
    finally:
        server.stop()
    shared = ApiServer(tmp_path, results, "max_concurrent_jobs=1", "allow_shared_studies=true").start()
    try:
        with shared.client() as client:
            before = finished_trials(client, a["job_id"])
            assert len(before) == 1 and _study_trials(results, "owner_a") == 1
            b = client.post("/optimize", json={**QUICK, "run_name": "attached_b", "study_name": "owner_a"})
            assert b.status_code == 201, b.text
            wait_status(client, b.json()["job_id"], TERMINAL, timeout=300)
            assert client.delete(f"/jobs/{b.json()['job_id']}").status_code == 200
            assert _study_trials(results, "owner_a") == 1  # A's study and trial are intact
            assert not (results / "attached_b").exists() and (results / "owner_a").is_dir()
            resumed = client.post(f"/jobs/{a['job_id']}/resume", json={"trials": 2})
            assert resumed.status_code == 202, resumed.text
            assert wait_status(client, a["job_id"], TERMINAL, timeout=300)["status"] == "completed"
            after = finished_trials(client, a["job_id"])
            assert len(after) == 2 and _study_trials(results, "owner_a") == 2  # one new trial, none retrained
            assert after[0]["number"] == before[0]["number"] and after[0]["finished_at"] == before[0]["finished_at"]
            assert client.delete(f"/jobs/{a['job_id']}").status_code == 200  # A owned it: the study goes with it
            assert _study_trials(results, "owner_a") == 0
    finally:
        shared.stop()
    assert SERVER.exists()
