"""schemathesis against the live server's /openapi.json: no 5xx, no schema violation.

Runs the schemathesis CLI (examples, coverage, fuzzing and stateful phases) against a
server with an API key, so it also checks that requests without the key are refused.
The server has max_concurrent_jobs=0: generated POST /optimize bodies are validated and
queued but never train, so thousands of cases cost seconds. Every check runs except
positive_data_acceptance: a schema-valid ``dataset`` string (any text) is rightly
refused when no such dataset exists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from api_helpers import ApiServer, clean_env

KEY = "schemathesis-key-0d2e"


def _st_command() -> list[str]:
    executable = Path(sys.executable).with_name("st")
    if executable.exists():
        return [str(executable)]
    found = shutil.which("st") or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -r requirements-dev.txt")
    return [found]


def test_openapi_schema_holds_under_schemathesis(tmp_path):
    server = ApiServer(tmp_path, tmp_path / "results", "max_concurrent_jobs=0",
                       env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    try:
        command = [*_st_command(), "run", f"{server.url}/openapi.json", "-H", f"X-API-Key: {KEY}",
                   "--exclude-checks", "positive_data_acceptance", "--max-examples", "30", "--seed", "20261128",
                   "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all",
                   "--warnings", "off", "--max-failures", "5"]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400,
                                env=clean_env(NO_COLOR="1"))
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        assert "passed" in output and "failed" not in output.split("SUMMARY")[-1]
        assert "Traceback" not in server.log(), server.log()[-4000:]
    finally:
        server.stop()
