"""GET /health's gpu_proxy_status against real endpoints: the GPU worker, a socket that never
answers, a server that refuses the key, and none at all.

Each API server runs ``python src/api_server.py`` in its own directory (tests/api_helpers.py)
with a 1 s probe interval; the worker is ``gpu-proxy/handler.py --rp_serve_api``
(tests/gpu_worker_helpers.py). /health must answer from the probe's cache, never waiting on it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Optional

import httpx
from api_helpers import ApiServer, clean_env, wait_for
from gpu_worker_helpers import running_worker

SECRET = "rp-health-key-77f0c2d9"


def _server(workdir: Path, *args: str, **env: str) -> ApiServer:
    environment = {k: v for k, v in clean_env(**env).items() if not k.startswith("RUNPOD_")}
    return ApiServer(workdir, workdir / "results", "max_concurrent_jobs=0", *args, env=environment).start()


def _health(server: ApiServer, client: Optional[httpx.Client] = None) -> dict:
    response = (client or httpx).get(server.url + "/health", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_status(server: ApiServer, status: str, timeout: float) -> dict:
    return wait_for(lambda: (h := _health(server))["gpu_proxy_status"] == status and h, timeout,
                    f"gpu_proxy_status {status}", interval=0.2)


def _utc(stamp: Optional[str]) -> datetime:
    assert stamp and stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@contextmanager
def hanging_endpoint() -> Iterator[str]:
    """A TCP server that accepts connections and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def key_refusing_endpoint() -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server that answers 401 to everything and records each request's path and headers."""
    seen: list[dict] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append({"path": self.path, "authorization": self.headers.get("authorization")})
            body = json.dumps({"error": "unauthorized"}).encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_reachable_with_the_worker_up_then_unreachable_once_it_stops(tmp_path: Path) -> None:
    with running_worker(tmp_path / "worker") as worker:
        server = _server(tmp_path / "api", "gpu_proxy_probe_interval_s=1", HYPEROPT_GPU_PROXY_ENDPOINT=worker.url)
        try:
            up = _health(server)  # the first answer: start-up waited for the first check
            assert up["gpu_proxy_status"] == "reachable", up
            assert up["gpu_proxy"]["endpoint"] == worker.url and up["gpu_proxy_detail"] is None
            first = _utc(up["gpu_proxy_checked_at"])
            worker.stop()
            stopped = time.monotonic()
            down = _wait_status(server, "unreachable", 8)
            print(f"unreachable {time.monotonic() - stopped:.2f} s after the worker stopped")
            assert _utc(down["gpu_proxy_checked_at"]) > first
            assert "ConnectError" in down["gpu_proxy_detail"] and worker.url in down["gpu_proxy_detail"]
        finally:
            server.stop()


def test_health_answers_at_once_while_the_endpoint_hangs(tmp_path: Path) -> None:
    with hanging_endpoint() as url:
        server = _server(tmp_path, "gpu_proxy_probe_interval_s=1", HYPEROPT_GPU_PROXY_ENDPOINT=url)
        try:
            latencies, statuses = [], []
            deadline = time.monotonic() + 12
            with httpx.Client() as client:  # one connection: the time measured is the server's
                while time.monotonic() < deadline and "unreachable" not in statuses:
                    started = time.perf_counter()
                    statuses.append(_health(server, client)["gpu_proxy_status"])
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.1)
            print(f"/health while the endpoint hangs: {len(latencies)} requests, max {max(latencies) * 1000:.0f} ms, "
                  f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")
            assert max(latencies) < 2.5, latencies  # a request waiting on the probe would take ~5 s
            assert statuses[0] == "unknown" and statuses[-1] == "unreachable", statuses  # a probe takes up to 5 s
            detail = _health(server)["gpu_proxy_detail"]
            assert "no answer" in detail and "within 5 s" in detail
        finally:
            server.stop()


def test_not_configured_without_an_endpoint_and_disabled_with_probing_off(tmp_path: Path) -> None:
    server = _server(tmp_path / "none", "gpu_proxy_probe_interval_s=1")
    try:
        health = _wait_status(server, "not_configured", 10)
        assert health["gpu_proxy_checked_at"] is None and "RUNPOD_ENDPOINT_ID" in health["gpu_proxy_detail"]
        assert health["gpu_proxy"]["api_key_source"] is None and not health["gpu_proxy"]["credentials_configured"]
    finally:
        server.stop()
    with hanging_endpoint() as url:
        server = _server(tmp_path / "off", "gpu_proxy_probe_interval_s=0", HYPEROPT_GPU_PROXY_ENDPOINT=url)
        try:
            time.sleep(1.5)
            health = _health(server)
            assert health["gpu_proxy_status"] == "disabled" and health["gpu_proxy_checked_at"] is None
            assert "gpu_proxy_probe_interval_s=0" in health["gpu_proxy_detail"]
        finally:
            server.stop()


def test_credentials_from_gpu_proxy_env_go_only_to_the_configured_endpoint(tmp_path: Path) -> None:
    work = tmp_path / "api"
    (work / "gpu-proxy").mkdir(parents=True)
    (work / "gpu-proxy" / ".env").write_text(f"RUNPOD_API_KEY={SECRET}\nRUNPOD_ENDPOINT_ID=healthtest123\n")
    with key_refusing_endpoint() as (url, seen):
        server = _server(work, "gpu_proxy_probe_interval_s=1", HYPEROPT_GPU_PROXY_ENDPOINT=url)
        try:
            health = _wait_status(server, "reachable", 10)
            proxy = health["gpu_proxy"]
            assert proxy["api_key_source"] == "gpu-proxy/.env" and proxy["endpoint_id_source"] == "gpu-proxy/.env"
            assert proxy["credentials_configured"] and proxy["endpoint"] == url
            assert "refused the API key" in health["gpu_proxy_detail"] and "HTTP 401" in health["gpu_proxy_detail"]
            assert seen and seen[0] == {"path": "/health", "authorization": f"Bearer {SECRET}"}
            assert SECRET not in json.dumps(health) and SECRET not in server.log()
        finally:
            server.stop()
