"""optimize_runpod.py, the terminal client: a job end to end against a live server (with
an API key), results unpacked safely, and the exit codes for every way it can go wrong."""

from __future__ import annotations

import importlib.util
import io
import json
import socket
import stat
import subprocess
import sys
import zipfile

import pytest
from api_helpers import REPO, ApiServer, clean_env

CLIENT = REPO / "optimize_runpod.py"
KEY = "runpod-client-key-51c"


def load_client():
    spec = importlib.util.spec_from_file_location("optimize_runpod", CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_client(cwd, *args, key=None, timeout=300):
    env = clean_env(**({"HYPEROPT_API_KEY": key} if key else {}))
    return subprocess.run([sys.executable, str(CLIENT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("runpod")
    srv = ApiServer(work, work / "server_results", "max_concurrent_jobs=1",
                    env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def finished_run(server, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("client")
    result = run_client(cwd, "--url", server.url, "--api-key", KEY, "dataset=digits", "trials=2", "max_epochs=2",
                        "min_epochs_per_trial=1", "plot_generation=none", "run_name=remote_run")
    return cwd, result


def test_runs_a_job_end_to_end_and_unpacks_results(server, finished_run):
    cwd, result = finished_run
    assert result.returncode == 0, result.stdout + result.stderr
    local = cwd / "optimization_results" / "remote_run"
    assert result.stdout.strip().splitlines()[-1] == f"results: {local.relative_to(cwd)}"
    remote = server.results_dir / "remote_run"
    assert json.loads((local / "summary.json").read_text()) == json.loads((remote / "summary.json").read_text())
    assert (local / "best_model.keras").read_bytes() == (remote / "best_model.keras").read_bytes()
    assert "trial   0" in result.stderr and "completed" in result.stderr
    assert not list((cwd / "optimization_results").glob("*.zip")), "the downloaded ZIP was left behind"


def test_lists_jobs_and_monitors_a_finished_one(server, finished_run, tmp_path):
    listing = run_client(tmp_path, "--url", server.url, "--jobs", key=KEY)
    assert listing.returncode == 0 and "remote_run" in listing.stdout and "completed" in listing.stdout
    job_id = next(line.split()[0] for line in listing.stdout.splitlines() if "remote_run" in line)
    again = run_client(tmp_path, "--url", server.url, "--monitor-only", job_id, key=KEY)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "optimization_results" / "remote_run" / "summary.json").is_file()


def test_polls_when_the_websocket_is_unavailable(server, finished_run, monkeypatch, capsys):
    client = load_client()
    import websockets.sync.client as ws_client

    def refuse(*args, **kwargs):
        raise OSError("blocked by a proxy")

    monkeypatch.setattr(ws_client, "connect", refuse)
    api = client.Api(server.url, KEY)
    job_id = api.json("GET", "/jobs", params={"limit": 100})["jobs"][-1]["job_id"]
    progress = client.Progress()
    job = client.follow(api, job_id, progress, poll_s=0.1)
    progress.close()
    assert job["status"] == "completed" and "polling" in capsys.readouterr().err


def test_interactive_asks_with_the_servers_choices(server, monkeypatch, capsys):
    client = load_client()
    answers = iter(["", "pareto", "overall_health", "val_accuracy", "8", "3", ""])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    settings = client.interactive_settings(client.Api(server.url, KEY))
    assert settings == {"dataset": "digits", "mode": "pareto", "optimize_for": "val_accuracy", "trials": "8",
                        "max_epochs_per_trial": "3", "min_epochs_per_trial": "3"}
    shown = capsys.readouterr().out
    assert "digits" in shown and "please answer one of: val_accuracy" in shown


def test_exit_codes(server, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = run_client(tmp_path, "--url", f"http://127.0.0.1:{closed_port}", "dataset=digits", timeout=60)
    assert unreachable.returncode == 3 and "cannot reach" in unreachable.stderr
    unauthorized = run_client(tmp_path, "--url", server.url, "dataset=digits", timeout=60)
    assert unauthorized.returncode == 4 and "API key" in unauthorized.stderr
    wrong_key = run_client(tmp_path, "--url", server.url, "--api-key", "nope", "--jobs", timeout=60)
    assert wrong_key.returncode == 4
    bad_setting = run_client(tmp_path, "--url", server.url, "trails=3", key=KEY, timeout=60)
    assert bad_setting.returncode == 2 and "did you mean 'trials'" in bad_setting.stderr
    not_a_pair = run_client(tmp_path, "--url", server.url, "trials", key=KEY, timeout=60)
    assert not_a_pair.returncode == 2 and "key=value" in not_a_pair.stderr
    bad_option = run_client(tmp_path, "--bogus", timeout=60)
    assert bad_option.returncode == 2
    unknown_job = run_client(tmp_path, "--url", server.url, "--monitor-only", "nojob", key=KEY, timeout=60)
    assert unknown_job.returncode == 2 and "no job" in unknown_job.stderr
    no_terminal = subprocess.run([sys.executable, str(CLIENT), "--url", server.url, "--interactive"], cwd=tmp_path,
                                 env=clean_env(HYPEROPT_API_KEY=KEY), input="", capture_output=True, text=True,
                                 timeout=60)
    assert no_terminal.returncode == 2 and "terminal" in no_terminal.stderr


def test_unpacking_refuses_zip_slip(tmp_path):
    client = load_client()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("run/summary.json", "{}")
        archive.writestr("run/plots/a.png", "png")
        archive.writestr("run/../../evil.txt", "evil")
        archive.writestr("/abs/evil.txt", "evil")
        archive.writestr("run/..\\evil.txt", "evil")
        archive.writestr("C:/evil.txt", "evil")
        link = zipfile.ZipInfo("run/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    dest = tmp_path / "out" / "run"
    with zipfile.ZipFile(buffer) as archive:
        written = client.safe_extract(archive, dest, prefix="run")
    assert sorted(p.relative_to(dest).as_posix() for p in written) == ["plots/a.png", "summary.json"]
    assert not list(tmp_path.rglob("evil.txt")) and not (dest / "link").exists()
