"""Security on a live server with an API key: 401 everywhere but /health, keys never in
logs, file routes that never leave the run folder, body limits and CORS.

The server runs with max_concurrent_jobs=0 (jobs queue, none trains), so these tests
need no TensorFlow; the file tests use a run folder laid out by hand.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import zipfile
from urllib.parse import urlsplit

import pytest
from api_helpers import TINY, ApiServer, clean_env
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

KEY = "test-key-7f3a9c1e5b"
ORIGIN = "https://dashboard.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("secure")
    srv = ApiServer(work, work / "results", "max_concurrent_jobs=0", "max_body_bytes=4096",
                    f"cors_origins={ORIGIN}", env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def authed(server):
    with server.client(**{"X-API-Key": KEY}) as client:
        yield client


@pytest.fixture(scope="module")
def job(server, authed):
    """A queued job whose run folder holds files, a symlink out, and a secret beside it."""
    job = authed.post("/optimize", json={**TINY, "trials": 1, "run_name": "files_run"}).json()
    run_dir = server.results_dir / "files_run"
    (run_dir / "plots").mkdir(parents=True)
    (run_dir / "summary.json").write_text('{"run_name": "files_run"}')
    (run_dir / "plots" / "history.png").write_bytes(b"\x89PNG fake")
    secret_dir = server.workdir / "outside"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_text("TOP SECRET")
    (server.results_dir / "secret.txt").write_text("TOP SECRET")
    os.symlink(secret_dir / "secret.txt", run_dir / "escape.txt")
    os.symlink(secret_dir, run_dir / "linkdir")
    os.symlink(run_dir / "summary.json", run_dir / "inside_link.json")
    return job


def routes(server, job_id: str) -> list[tuple[str, str]]:
    schema = httpx_get_schema(server)
    out = []
    for path, operations in schema["paths"].items():
        concrete = path.replace("{job_id}", job_id).replace("{path}", "summary.json")
        out += [(method.upper(), concrete) for method in operations]
    return out + [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc")]


def httpx_get_schema(server) -> dict:
    with server.client(**{"X-API-Key": KEY}) as client:
        return client.get("/openapi.json").json()


def test_every_route_but_health_needs_the_key(server, job):
    with server.client() as anonymous, server.client(**{"X-API-Key": "wrong"}) as wrong, \
            server.client(Authorization="Bearer wrong") as wrong_bearer:
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/health").json()["auth_required"] is True
        checked = routes(server, job["job_id"])
        assert len(checked) >= 18
        for method, path in checked:
            if path == "/health":
                continue
            for client in (anonymous, wrong, wrong_bearer):
                response = client.request(method, path, json={} if method == "POST" else None)
                assert response.status_code == 401, (method, path, response.status_code)
                assert KEY not in response.text


def test_the_key_works_as_header_and_bearer(server, job):
    with server.client(Authorization=f"Bearer {KEY}") as bearer:
        assert bearer.get(f"/jobs/{job['job_id']}").json()["status"] == "pending"
    with server.client(**{"X-API-Key": KEY}) as header:
        assert header.get("/datasets").status_code == 200
        schema = header.get("/openapi.json").json()
        assert "securitySchemes" in schema["components"]
        body = schema["paths"]["/optimize"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["examples"] and "health_weight" in body["properties"] and "results_dir" not in body["properties"]
        assert body["properties"]["trials"]["description"] == "number of Optuna trials to run"
        docs = header.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_websocket_needs_the_key(server, job):
    url = server.url.replace("http://", "ws://") + f"/jobs/{job['job_id']}/stream"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 401
    with connect(url, additional_headers={"X-API-Key": KEY}, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "state"


def test_keys_never_reach_the_log(server, job):
    with server.client(**{"X-API-Key": KEY}) as client:
        client.get(f"/jobs/{job['job_id']}", params={"api_key": KEY, "token": KEY})
        client.post("/optimize", json={"trials": 0, "note": KEY})
    with server.client(Authorization=f"Bearer {KEY}-wrong") as client:
        client.get("/jobs")
    url = server.url.replace("http://", "ws://") + f"/jobs/{job['job_id']}/stream?api_key={KEY}&token={KEY}"
    with connect(url, additional_headers={"X-API-Key": KEY}, open_timeout=10) as socket:
        socket.recv(timeout=10)
    log = server.log()
    assert "GET /jobs" in log  # the access log is there...
    assert KEY not in log  # ...but no key, right or wrong, nor the query string


def raw_get(server, path: str) -> tuple[int, bytes]:
    """A request whose path is sent byte for byte (httpx would normalize '..')."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.putheader("X-API-Key", KEY)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


@pytest.mark.parametrize("attack", [
    "../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "%2e%2e%2fsecret.txt", "%252e%252e%252fsecret.txt",
    "plots/../../secret.txt", "/etc/passwd", "%2fetc%2fpasswd", "..%5csecret.txt", "C:%5cWindows%5cwin.ini",
    "summary.json%00.png", "escape.txt", "linkdir/secret.txt", "./summary.json", "plots//history.png",
    "../hpopt_jobs.db", "../../outside/secret.txt",
])
def test_file_route_never_leaves_the_run_folder(server, job, attack):
    status, body = raw_get(server, f"/jobs/{job['job_id']}/files/{attack}")
    assert status in (400, 404), (attack, status)
    assert b"TOP SECRET" not in body and b"root:" not in body


def test_files_inside_are_served_and_listed_without_escapes(server, authed, job):
    status, body = raw_get(server, f"/jobs/{job['job_id']}/files/plots/history.png")
    assert status == 200 and body == b"\x89PNG fake"
    assert authed.get(f"/jobs/{job['job_id']}/files/inside_link.json").json() == {"run_name": "files_run"}
    listed = {f["path"] for f in authed.get(f"/jobs/{job['job_id']}/files").json()["files"]}
    assert listed == {"summary.json", "plots/history.png", "inside_link.json"}
    archive = zipfile.ZipFile(io.BytesIO(authed.get(f"/jobs/{job['job_id']}/download").content))
    assert sorted(archive.namelist()) == sorted(f"files_run/{p}" for p in listed)
    assert all(b"TOP SECRET" not in archive.read(name) for name in archive.namelist())


def test_request_bodies_are_size_limited(authed):
    huge = {"config_overrides": {"x": "a" * 10_000}}
    assert authed.post("/optimize", json=huge).status_code == 413
    chunked = authed.post("/optimize", content=iter([b'{"trials": 1, "x": "', b"a" * 8000, b'"}']))
    assert chunked.status_code == 413


def test_cors_only_for_configured_origins(server, authed):
    allowed = authed.options("/jobs", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert allowed.headers.get("access-control-allow-origin") == ORIGIN
    other = authed.get("/jobs", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_queue_pending_jobs_in_order_then_cancel(authed):
    first = authed.post("/optimize", json={**TINY, "trials": 1}).json()
    second = authed.post("/optimize", json={**TINY, "trials": 1}).json()
    assert first["status"] == second["status"] == "pending"
    assert second["queue_position"] == first["queue_position"] + 1
    stopped = authed.post(f"/jobs/{first['job_id']}/stop")
    assert stopped.status_code == 202 and stopped.json()["status"] == "cancelled"
    assert authed.get(f"/jobs/{second['job_id']}").json()["queue_position"] == second["queue_position"] - 1
    assert authed.get("/jobs", params={"status": "cancelled"}).json()["total"] >= 1
    assert authed.delete(f"/jobs/{second['job_id']}").status_code == 200
