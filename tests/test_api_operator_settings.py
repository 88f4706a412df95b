"""Operator settings on a live server: a request cannot choose where the server's secrets go
(storage, GPU proxy endpoint, repository and ref, results folder), and a storage
password configured by the operator never shows in an answer, a file or a log (nor in a
job's warnings, which reach its WebSocket, summary.json and the ZIP with its job.log).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
import time
import zipfile

import pytest
from api_helpers import TINY, ApiServer, clean_env, wait_status
from websockets.sync.client import connect

KEY = "test-key-operator-41d2"
RUNPOD_KEY = "rp-secret-key-9b7c"
PASSWORD = "s3cretpw"
TERMINAL = ("completed", "failed", "interrupted", "cancelled")


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def _record(self) -> None:
        type(self).seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def listener():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder.seen
    httpd.shutdown()


def test_requests_cannot_choose_where_secrets_go(tmp_path, listener):
    url, seen = listener
    server = ApiServer(tmp_path, tmp_path / "results", "max_concurrent_jobs=1",
                       env=clean_env(HYPEROPT_API_KEY=KEY, RUNPOD_API_KEY=RUNPOD_KEY,
                                     HYPEROPT_GPU_PROXY_ENDPOINT=f"http://op:{PASSWORD}@127.0.0.1:1")).start()
    attempts = {"gpu_proxy_endpoint": url, "gpu_proxy_repo_url": f"{url}/hpopt.git", "gpu_proxy_ref": "main",
                "storage": f"sqlite:///{tmp_path / 'results' / 'mine.db'}", "results_dir": str(tmp_path / "elsewhere")}
    bodies = []
    for key, value in attempts.items():
        base = {**TINY, "trials": 1, "use_gpu_proxy": True, "gpu_proxy_fallback_local": False}
        bodies += [(key, {**base, key: value}), (key, {**base, "config_overrides": {key: value}}),
                   (key, {**base, key.upper(): value}), (key, {**base, key.replace("_", "-"): value})]
    try:
        with server.client(**{"X-API-Key": KEY}) as client:
            answers = [(key, body, client.post("/optimize", json=body)) for key, body in bodies]
            for _, _, answer in answers:  # were one accepted, let its job run (and call out) before judging
                if answer.status_code == 201:
                    wait_status(client, answer.json()["job_id"], TERMINAL, timeout=240)
            time.sleep(1.0)
            assert seen == [], f"the listener was called: {seen}"
            for key, body, answer in answers:
                assert answer.status_code == 422, (body, answer.status_code, answer.text)
                problem = answer.json()["detail"][0]
                assert problem["loc"] == ["body", key] and "operator setting" in problem["msg"], problem
                assert "environment variable" in problem["msg"] or "results folder" in problem["msg"]
            assert client.get("/jobs").json()["total"] == 0
            health = client.get("/health").json()["gpu_proxy"]
            assert health["endpoint"] == "http://op:***@127.0.0.1:1" and health["credentials_configured"]
            assert RUNPOD_KEY not in str(health)
    finally:
        server.stop()
    assert RUNPOD_KEY not in server.log()




def _with_password(url: str) -> str:
    """The URL with a password in its userinfo (trust authentication accepts any)."""
    scheme, rest = url.split("://", 1)
    userinfo, host = rest.split("@", 1) if "@" in rest else ("postgres", rest)
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{PASSWORD}@{host}"


def test_operator_storage_password_never_shown(tmp_path, postgres_url):
    storage = _with_password(postgres_url)
    results = tmp_path / "results"
    server = ApiServer(tmp_path, results, "max_concurrent_jobs=1",
                       env=clean_env(HYPEROPT_API_KEY=KEY, HYPEROPT_STORAGE=storage)).start()
    try:
        with server.client(**{"X-API-Key": KEY}) as client:
            body = {**TINY, "trials": 1, "max_epochs_per_trial": 1, "run_name": f"masked_{os.getpid()}"}
            submitted = client.post("/optimize", json=body)
            assert submitted.status_code == 201, submitted.text
            job_id = submitted.json()["job_id"]
            job = wait_status(client, job_id, TERMINAL, timeout=300)
            assert job["status"] == "completed", job
            shown = job["config"]["storage"]
            assert shown.endswith("@" + storage.split("@", 1)[1]) and "***" in shown, shown
            answers = [client.get("/jobs").text, client.get(f"/jobs/{job_id}").text, submitted.text,
                       client.get(f"/jobs/{job_id}/files/summary.json").text]
    finally:
        server.stop()
    for answer in answers:
        assert PASSWORD not in answer
    written = [p for p in results.rglob("*") if p.is_file()] + [server.log_path]
    assert any(p.name == "config.json" for p in written) and any(p.name == "summary.json" for p in written)
    assert any(p.name == "job.log" for p in written)
    leaks = [str(p) for p in written if PASSWORD.encode() in p.read_bytes()]
    assert leaks == []


def test_a_jobs_warnings_reach_its_stream_summary_and_zip_masked(tmp_path):
    """The operator's GPU proxy is down: the job trains locally, and says so (masked) live, in
    summary.json and report.md; the ZIP carries the job's log."""
    server = ApiServer(tmp_path, tmp_path / "results", "max_concurrent_jobs=1",
                       env=clean_env(HYPEROPT_API_KEY=KEY, HYPEROPT_GPU_PROXY_ENDPOINT=f"http://op:{PASSWORD}@127.0.0.1:1"))
    server.start()
    events: list[dict] = []
    try:
        with server.client(**{"X-API-Key": KEY}) as client:
            body = {**TINY, "trials": 1, "max_epochs_per_trial": 1, "run_name": "warned", "use_gpu_proxy": True}
            submitted = client.post("/optimize", json=body)
            assert submitted.status_code == 201, submitted.text
            job_id = submitted.json()["job_id"]
            url = server.url.replace("http://", "ws://") + f"/jobs/{job_id}/stream"
            with connect(url, open_timeout=30, additional_headers={"X-API-Key": KEY}) as socket:
                while not events or events[-1]["type"] != "job_finished":
                    events.append(json.loads(socket.recv(timeout=300)))
            assert wait_status(client, job_id, TERMINAL)["status"] == "completed", events[-1]
            summary = client.get(f"/jobs/{job_id}/files/summary.json").json()
            report = client.get(f"/jobs/{job_id}/files/report.md").text
            archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/download").content))
            with connect(url, open_timeout=30, additional_headers={"X-API-Key": KEY}) as socket:
                late_state = json.loads(socket.recv(timeout=30))
    finally:
        server.stop()
    live = [e for e in events if e["type"] == "warning" and "training locally" in e["message"]]
    assert len(live) == 1, [e["type"] for e in events]
    assert live[0]["job_id"] == job_id and live[0]["logger"] == "hpopt.executors.gpu_proxy"
    assert "op:***@127.0.0.1:1" in live[0]["message"]
    assert [w["message"] for w in late_state["warnings"] if "training locally" in w["message"]] == [live[0]["message"]]
    assert [w["message"] for w in summary["warnings"] if "training locally" in w["message"]] == [live[0]["message"]]
    assert list(summary["execution"]["places"]) == ["local"] and summary["execution"]["speedup"] is None
    assert "## Warnings" in report and "## Where trials ran" in report
    assert "warned/job.log" in archive.namelist()
    log = archive.read("warned/job.log").decode()
    assert "training locally" in log and "op:***@127.0.0.1:1" in log
    assert all(PASSWORD.encode() not in archive.read(name) for name in archive.namelist())
    assert PASSWORD not in json.dumps(events) + json.dumps(late_state) + report
