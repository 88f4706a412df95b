"""The API end to end on a real server: a job on digits from POST /optimize to the ZIP,
live WebSocket events, stop, and a server killed mid-job then resumed.

Every job is real (TensorFlow in its own process), kept tiny so each takes ~10-20 s.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile

import pytest
from api_helpers import TINY, ApiServer, finished_trials, wait_for, wait_status
from websockets.sync.client import connect

from hpopt.jobs.launcher import lock_held
from hpopt.trial_record import FINISHED_STATES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("api")
    srv = ApiServer(work, work / "results", "max_concurrent_jobs=2").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


def ws_url(server: ApiServer, job_id: str) -> str:
    return server.url.replace("http://", "ws://") + f"/jobs/{job_id}/stream"


def collect_events(url: str, until: str = "job_finished", timeout: float = 240) -> list[dict]:
    events: list[dict] = []
    with connect(url, open_timeout=30) as socket:
        while True:
            event = json.loads(socket.recv(timeout=timeout))
            events.append(event)
            if event["type"] == until:
                return events


@pytest.fixture(scope="module")
def completed_job(server, client):
    """A 3-trial job in the seed's request shape, its WebSocket events recorded from the start."""
    body = {"dataset_name": "digits", "mode": "simple", "optimize_for": "val_accuracy", "trials": 3,
            "config_overrides": {**{k: v for k, v in TINY.items() if k != "dataset"}, "plot_generation": "best"}}
    response = client.post("/optimize", json=body)
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['job_id']}"
    events: list[dict] = []
    reader = threading.Thread(target=lambda: events.extend(collect_events(ws_url(server, job["job_id"]))))
    reader.start()
    reader.join(300)
    assert not reader.is_alive(), "the WebSocket never delivered job_finished"
    final = wait_status(client, job["job_id"], ("completed", "failed"))
    assert final["status"] == "completed", final
    return {"job": final, "events": events}


def test_job_runs_to_completion_and_streams_epochs(completed_job):
    job, events = completed_job["job"], completed_job["events"]
    types = [e["type"] for e in events]
    assert types[0] == "state" and types[-1] == "job_finished"
    assert events[-1]["status"] == "completed"
    assert {"run_started", "trial_started", "epoch", "trial_finished", "run_finished"} <= set(types)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert len(epochs) >= 3 and all("val_accuracy" in e["record"] and e["job_id"] == job["job_id"] for e in epochs)
    # epochs arrived while the job trained: before the run finished, interleaved with trials
    assert types.index("epoch") < types.index("trial_finished") < types.index("run_finished")
    assert types.count("trial_finished") == 3
    assert job["progress"]["trials_finished"] == 3 and job["attempts"] == 1
    assert job["progress"]["best_value"] is not None


def test_trials_best_and_trends_match_summary(client, completed_job):
    job_id = completed_job["job"]["job_id"]
    summary = client.get(f"/jobs/{job_id}/files/summary.json").json()
    trials = client.get(f"/jobs/{job_id}/trials").json()
    assert trials["count"] == 3 == summary["n_trials"]
    assert [t["number"] for t in trials["trials"]] == [0, 1, 2]
    assert [t["value"] for t in trials["trials"]] == [t["value"] for t in summary["trials"]]
    assert all("history" not in t for t in trials["trials"])
    with_history = client.get(f"/jobs/{job_id}/trials", params={"history": "true"}).json()
    assert all(len(t["history"]) == t["epochs_run"] for t in with_history["trials"])
    best = client.get(f"/jobs/{job_id}/best-trial").json()
    assert best["best_trial"]["number"] == summary["best_trial"]["number"]
    assert best["test_accuracy"] == summary["test_accuracy"] and best["direction"] == "maximize"
    trends = client.get(f"/jobs/{job_id}/trends").json()["trends"]
    assert [p["number"] for p in trends] == [0, 1, 2]
    bests = [p["best_value"] for p in trends]
    assert bests == sorted(bests) and bests[-1] == pytest.approx(summary["best_trial"]["value"])
    assert all(p["overall_health"] is not None for p in trends)
    assert client.get(f"/jobs/{job_id}/current-trial").json()["trial"] is None


def test_files_and_zip_are_the_run_folder(server, client, completed_job):
    job = completed_job["job"]
    run_dir = server.results_dir / job["run_name"]
    listing = client.get(f"/jobs/{job['job_id']}/files").json()["files"]
    paths = {f["path"] for f in listing}
    assert {"summary.json", "trials.csv", "best_model.keras", "report.md", "best_hyperparameters.yaml"} <= paths
    assert any(p.startswith("plots/") for p in paths) and any(p.startswith("trials/trial_") for p in paths)
    on_disk = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert paths == on_disk
    report = client.get(f"/jobs/{job['job_id']}/files/report.md")
    assert report.status_code == 200 and report.content == (run_dir / "report.md").read_bytes()
    before = sorted(p for p in server.results_dir.rglob("*"))
    response = client.get(f"/jobs/{job['job_id']}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert job["run_name"] in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert set(archive.namelist()) == {f"{job['run_name']}/{p}" for p in paths | {"job.log"}}  # + the job's log
    job_log = server.results_dir / ".hpopt_jobs" / job["job_id"] / "job.log"
    assert archive.read(f"{job['run_name']}/job.log") == job_log.read_bytes() != b""
    for name in ("summary.json", "best_model.keras"):
        assert archive.read(f"{job['run_name']}/{name}") == (run_dir / name).read_bytes()
    assert sorted(p for p in server.results_dir.rglob("*")) == before, "the download left files behind"


def test_late_subscriber_gets_state_first(server, completed_job):
    job = completed_job["job"]
    events = collect_events(ws_url(server, job["job_id"]), timeout=30)
    assert [e["type"] for e in events] == ["state", "job_finished"]
    assert events[0]["job"]["status"] == "completed" and len(events[0]["trials"]) == 3


def test_list_filter_and_conflicts(client, completed_job):
    job_id = completed_job["job"]["job_id"]
    listed = client.get("/jobs", params={"status": "completed", "limit": 1}).json()
    assert listed["total"] >= 1 and len(listed["jobs"]) == 1 and listed["limit"] == 1
    assert all(j["status"] == "completed" for j in listed["jobs"])
    assert client.get("/jobs", params={"status": "nonsense"}).status_code == 422
    assert client.get("/jobs/does-not-exist").status_code == 404
    assert client.post(f"/jobs/{job_id}/stop").status_code == 409
    assert client.post(f"/jobs/{job_id}/resume").status_code == 409
    assert client.delete("/jobs/does-not-exist").status_code == 404
    again = client.post("/optimize", json={**TINY, "trials": 1, "run_name": completed_job["job"]["run_name"]})
    assert again.status_code == 409 and job_id in again.json()["detail"]


def test_stop_mid_job_keeps_finished_trials(server, client):
    job = client.post("/optimize", json={**TINY, "trials": 40, "run_name": "stop_me"}).json()
    job_id = job["job_id"]
    current = wait_for(lambda: (client.get(f"/jobs/{job_id}/current-trial").json()["trial"] or {}).get("epochs"),
                       180, "the running trial's first epoch")
    assert {"epoch", "loss", "val_accuracy"} <= set(current[0])
    wait_for(lambda: len(finished_trials(client, job_id)) >= 1, 180, "a finished trial")
    state = collect_events(ws_url(server, job_id), until="state", timeout=30)[0]
    assert state["job"]["status"] == "running" and len(state["trials"]) >= 1
    assert client.delete(f"/jobs/{job_id}").status_code == 409  # running: stop it first
    response = client.post(f"/jobs/{job_id}/stop")
    assert response.status_code == 202 and response.json()["stop_requested"] is True
    before = {t["number"]: t["value"] for t in finished_trials(client, job_id) if t["state"] == "complete"}
    final = wait_status(client, job_id, ("cancelled", "failed", "completed"), timeout=120)
    assert final["status"] == "cancelled", final
    summary = client.get(f"/jobs/{job_id}/files/summary.json").json()
    kept = {t["number"]: t["value"] for t in summary["trials"] if t["state"] == "complete"}
    assert before and before.items() <= kept.items()
    assert summary["n_trials"] < 40 and summary["interrupted"] is True
    assert client.get(f"/jobs/{job_id}/best-trial").json()["best_trial"] is not None


def test_delete_removes_job_and_files(server, client):
    job = client.post("/optimize", json={**TINY, "trials": 1, "run_name": "to_delete"}).json()
    final = wait_status(client, job["job_id"], ("completed", "failed"), timeout=180)
    assert final["status"] == "completed"
    assert (server.results_dir / "to_delete").is_dir()
    response = client.delete(f"/jobs/{job['job_id']}")
    assert response.status_code == 200 and response.json() == {"job_id": job["job_id"], "deleted": True}
    assert client.get(f"/jobs/{job['job_id']}").status_code == 404
    assert not (server.results_dir / "to_delete").exists()
    assert not (server.results_dir / ".hpopt_jobs" / job["job_id"]).exists()


def test_restart_mid_job_interrupts_and_resume_finishes(tmp_path):
    results = tmp_path / "results"
    first = ApiServer(tmp_path, results, "max_concurrent_jobs=2").start()
    try:
        with first.client() as client:
            # two jobs starting together on a fresh results folder share one new Optuna storage
            job_id = client.post("/optimize", json={**TINY, "trials": 5, "run_name": "survivor"}).json()["job_id"]
            twin = client.post("/optimize", json={**TINY, "trials": 1, "run_name": "twin"}).json()["job_id"]
            assert wait_status(client, twin, ("completed", "failed"))["status"] == "completed"
            wait_for(lambda: len(finished_trials(client, job_id)) >= 1, 180, "a finished trial")
        first.kill()  # no shutdown code runs: the job process notices and stops itself
    finally:
        first.kill()
    second = ApiServer(tmp_path, results, "max_concurrent_jobs=1").start()
    try:
        with second.client() as client:
            job = wait_status(client, job_id, ("interrupted", "completed", "failed"), timeout=120)
            assert job["status"] == "interrupted", job
            assert not lock_held(results / ".hpopt_jobs" / job_id / "job.lock")
            before = {t["number"]: t["value"] for t in finished_trials(client, job_id) if t["state"] == "complete"}
            assert before
            response = client.post(f"/jobs/{job_id}/resume")
            assert response.status_code == 202 and response.json()["status"] in ("pending", "running")
            job = wait_status(client, job_id, ("completed", "failed", "interrupted"), timeout=240)
            assert job["status"] == "completed" and job["attempts"] == 2, job
            summary = client.get(f"/jobs/{job_id}/files/summary.json").json()
            after = {t["number"]: t["value"] for t in summary["trials"] if t["state"] == "complete"}
            assert before.items() <= after.items(), "a finished trial was lost"
            counted = [t for t in summary["trials"] if t["state"] in FINISHED_STATES]  # not "stopped"
            assert len(counted) == 5
    finally:
        second.stop()
