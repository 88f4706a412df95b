"""Bad payloads against the real worker under the runpod SDK's local API server.

Each gets an error record within a second (never a 500, never a crash), and the worker
serves a normal request afterwards. The worker runs with a 1 MiB cap on decoded arrays
(HPOPT_PROXY_MAX_ARRAY_BYTES), so the zip bomb stays small in absolute terms.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest

from hpopt.gpu_proxy.payload import encode_arrays, fingerprint
from hpopt.gpu_proxy.protocol import InlineData, Payload, TrainRequest
from hpopt.spec import CNNArchitecture, DataShape, TrialSpec

REPO = Path(__file__).resolve().parents[1]
HANDLER = REPO / "gpu-proxy" / "handler.py"
CAP = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits_worker")
    port = _free_port()
    env = {**os.environ, "HPOPT_PROXY_MAX_ARRAY_BYTES": str(CAP), "HYPEROPT_OFFLINE": "1",
           "HPOPT_PROXY_CACHE_DIR": str(folder / "cache"), "PYTHONPATH": str(REPO / "src"),
           "CUDA_VISIBLE_DEVICES": "-1"}
    log = folder / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(HANDLER), "--rp_serve_api", "--rp_api_host", "127.0.0.1",
                                    "--rp_api_port", str(port)], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
        assert process.poll() is None, "the worker died"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _healthy(url: str) -> bool:
    try:
        response = httpx.post(f"{url}/runsync", json={"input": {"operation": "health_check"}}, timeout=10)
        return response.status_code == 200 and response.json()["output"][0]["type"] == "health"
    except httpx.TransportError:
        return False


def _arrays(n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8), "y_train": np.arange(n) % 10,
            "x_val": rng.integers(0, 255, (20, 8, 8, 1), dtype=np.uint8), "y_val": np.arange(20) % 10}


def _spec() -> TrialSpec:
    arch = CNNArchitecture(conv_layers=1, filters=4, kernel_size=3, hidden_layers=1, hidden_units=8,
                           hidden_shrink=1.0, dropout=0.0, learning_rate=1e-3, batch_size=16,
                           kernel_initializer="he_normal")
    return TrialSpec(architecture=arch, epochs=1, seed=1,
                     data=DataShape(modality="image", input_shape=(8, 8, 1), num_classes=10))


def _post(url: str, sha256: str, payload: Payload, timeout: float = 30) -> tuple[dict, float]:
    request = TrainRequest(spec=_spec(), data=InlineData(sha256=sha256, payload=payload))
    started = time.monotonic()
    response = httpx.post(f"{url}/runsync", json={"input": request.model_dump(mode="json")}, timeout=timeout)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    return response.json()["output"][-1], elapsed


def _npz(members: dict[str, bytes]) -> Payload:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return Payload(data=base64.b64encode(buffer.getvalue()).decode())


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _huge_header() -> bytes:
    """A .npy that claims 58 TiB of uint8 and holds 16 bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_2_0(buffer, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (2**40, 8, 8, 1)})
    return buffer.getvalue() + bytes(16)


def test_bad_payloads_get_error_records_fast_and_the_worker_lives_on(worker_url):
    good = _arrays()
    members = {k: _npy(v) for k, v in good.items()}
    bomb = {**good, "x_train": np.zeros((CAP, 8, 8, 1), np.uint8)}  # 64 MiB of zeros
    cases = {
        "huge header": ("0" * 64, _npz({**members, "x_train": _huge_header()}), "would take"),
        "zip bomb": ("0" * 64, encode_arrays(bomb), "decompresses to"),
        "wrong hash": ("0" * 64, encode_arrays(good), "sha256"),
    }
    assert len(cases["zip bomb"][1].data) < 2_000_000  # 64 MiB of zeros sent as well under 2 MB
    for name, (sha, payload, expected) in cases.items():
        record, elapsed = _post(worker_url, sha, payload)
        assert record["type"] == "error" and record["code"] == "payload_invalid", (name, record)
        assert expected in record["message"], (name, record)
        assert elapsed < 3.0, (name, elapsed)  # refused before decoding; generous for a loaded 2-core CI
    assert _healthy(worker_url)
    record, _ = _post(worker_url, fingerprint(good), encode_arrays(good), timeout=600)
    assert record["type"] == "result", record


def test_a_zip_directory_that_understates_sizes_is_refused_before_decompressing():
    """A bomb whose zip directory claims 1000 bytes: the .npy header must agree with it."""
    import struct

    from hpopt.gpu_proxy.payload import PayloadError, decode_npz

    raw = bytearray(base64.b64decode(encode_arrays({"w0000": np.zeros((512, 1024), np.uint8)}).data))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = raw.index(signature) + offset
        raw[at:at + 4] = struct.pack("<I", 1000)
    started = time.monotonic()
    with pytest.raises(PayloadError, match="archive holds|CRC"):  # zipfile stops at the claimed size
        decode_npz(bytes(raw), {"uint8"}, max_bytes=CAP)
    assert time.monotonic() - started < 2.0  # milliseconds when refused early; room for a loaded CI
