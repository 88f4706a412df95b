"""RunPod credentials: the environment, then ./.env, then gpu-proxy/.env, per variable.

Each test runs in its own empty directory (the files are looked for relative to the current
one), so a developer's own .env never leaks in. ``--help`` runs ``python src/optimizer.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpopt.gpu_proxy.credentials import load_credentials
from hpopt.gpu_proxy.endpoint import EndpointConfigError, resolve_endpoint

SRC = Path(__file__).resolve().parents[1] / "src"
KEY_IN_PROXY_DIR = "rp-proxydir-5b1e0c7a"
KEY_IN_DOT_ENV = "rp-dotenv-93fd21aa"
KEY_IN_ENVIRONMENT = "rp-environment-41c7e8d0"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("RUNPOD_API_KEY", "RUNPOD_ENDPOINT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(path: Path, **values: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def test_the_guides_gpu_proxy_env_is_read(tmp_path: Path) -> None:
    _write(tmp_path / "gpu-proxy" / ".env", RUNPOD_API_KEY=KEY_IN_PROXY_DIR, RUNPOD_ENDPOINT_ID="proxydir123")
    endpoint = resolve_endpoint(None)
    assert endpoint.base_url == "https://api.runpod.ai/v2/proxydir123"
    assert endpoint.id_source == "gpu-proxy/.env" and endpoint.api_key_source == "gpu-proxy/.env"
    assert endpoint.headers()["authorization"] == f"Bearer {KEY_IN_PROXY_DIR}"
    assert KEY_IN_PROXY_DIR not in repr(endpoint) and KEY_IN_PROXY_DIR not in endpoint.describe()
    assert "RUNPOD_ENDPOINT_ID in gpu-proxy/.env" in endpoint.describe()
    assert "RUNPOD_API_KEY" not in os.environ  # read, never exported


def test_dot_env_beats_gpu_proxy_env_and_the_environment_beats_both(tmp_path: Path) -> None:
    _write(tmp_path / "gpu-proxy" / ".env", RUNPOD_API_KEY=KEY_IN_PROXY_DIR, RUNPOD_ENDPOINT_ID="proxydir123")
    _write(tmp_path / ".env", RUNPOD_API_KEY=KEY_IN_DOT_ENV, HYPEROPT_TRIALS="3")
    found = load_credentials()
    assert (found.api_key, found.api_key_source) == (KEY_IN_DOT_ENV, ".env")
    assert (found.endpoint_id, found.endpoint_id_source) == ("proxydir123", "gpu-proxy/.env")  # per variable
    environment = {"RUNPOD_API_KEY": KEY_IN_ENVIRONMENT, "RUNPOD_ENDPOINT_ID": "fromenv123"}
    endpoint = resolve_endpoint(None, environment)
    assert endpoint.base_url.endswith("/fromenv123") and endpoint.id_source == "environment"
    assert endpoint.api_key_source == "environment" and endpoint.api_key == KEY_IN_ENVIRONMENT
    assert load_credentials({"RUNPOD_API_KEY": "  "}).api_key_source == ".env"  # empty is unset
    assert KEY_IN_DOT_ENV not in repr(found) and found.sources() == {"RUNPOD_API_KEY": ".env",
                                                                     "RUNPOD_ENDPOINT_ID": "gpu-proxy/.env"}


def test_an_operator_url_takes_the_key_from_the_files(tmp_path: Path) -> None:
    _write(tmp_path / ".env", RUNPOD_API_KEY=KEY_IN_DOT_ENV)
    endpoint = resolve_endpoint("http://127.0.0.1:8011/")
    assert endpoint.source == "gpu_proxy_endpoint" and endpoint.id_source is None
    assert endpoint.api_key_source == ".env" and endpoint.base_url == "http://127.0.0.1:8011"


def test_messages_name_the_three_places() -> None:
    places = "the environment, ./.env or gpu-proxy/.env"
    with pytest.raises(EndpointConfigError, match="RUNPOD_API_KEY in " + places):
        resolve_endpoint("abc123", {})
    with pytest.raises(EndpointConfigError, match="RUNPOD_ENDPOINT_ID in " + places):
        resolve_endpoint(None, {})


def _help(cwd: Path, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HYPEROPT_", "RUNPOD_"))}
    env.update(PYTHONPATH=str(SRC), PYTHONIOENCODING="utf-8", **extra)
    result = subprocess.run([sys.executable, str(SRC / "optimizer.py"), "--help"], cwd=cwd, env=env,
                            capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_help_names_where_each_credential_was_found_never_its_value(tmp_path: Path) -> None:
    assert "RUNPOD_API_KEY       not set" in _help(tmp_path)
    _write(tmp_path / "gpu-proxy" / ".env", RUNPOD_API_KEY=KEY_IN_PROXY_DIR, RUNPOD_ENDPOINT_ID="proxydir123")
    text = _help(tmp_path)
    assert "RUNPOD_API_KEY       found in gpu-proxy/.env" in text
    assert "RUNPOD_ENDPOINT_ID   found in gpu-proxy/.env" in text
    assert "environment, then ./.env, then gpu-proxy/.env" in " ".join(text.split())
    assert KEY_IN_PROXY_DIR not in text and "proxydir123" not in text
    text = _help(tmp_path, RUNPOD_API_KEY=KEY_IN_ENVIRONMENT)
    assert "RUNPOD_API_KEY       found in environment" in text and KEY_IN_ENVIRONMENT not in text
