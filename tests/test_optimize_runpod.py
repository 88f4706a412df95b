"""optimize_runpod.py, the terminal client (hpopt.remote_client): a job end to end against a
live server (with an API key), results unpacked safely, the exit codes for every way it can go
wrong, the commands of the original system's guide (a URL without a scheme, --interactive,
--debug), and that the client stays light (no TensorFlow, Keras or Optuna)."""

from __future__ import annotations

import importlib.util
import io
import json
import socket
import stat
import subprocess
import sys
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from api_helpers import REPO, TINY, ApiServer, clean_env, wait_status

from hpopt.remote_client.cli import main
from hpopt.remote_client.download import safe_extract
from hpopt.remote_client.follow import follow
from hpopt.remote_client.progress import Progress
from hpopt.remote_client.prompts import ask_settings
from hpopt.remote_client.server_api import Api
from hpopt.remote_client.urls import normalize_url

CLIENT = REPO / "optimize_runpod.py"
KEY = "runpod-client-key-51c"


def load_entry_point():
    """optimize_runpod.py loaded from its file, as a user's script would import it."""
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
    import websockets.sync.client as ws_client

    def refuse(*args, **kwargs):
        raise OSError("blocked by a proxy")

    monkeypatch.setattr(ws_client, "connect", refuse)
    api = Api(server.url, KEY)
    job_id = api.json("GET", "/jobs", params={"limit": 100})["jobs"][-1]["job_id"]
    progress = Progress()
    job = follow(api, job_id, progress, poll_s=0.1)
    progress.close()
    assert job["status"] == "completed" and "polling" in capsys.readouterr().err


def test_ask_asks_with_the_servers_choices(server, monkeypatch, capsys):
    answers = iter(["", "pareto", "overall_health", "val_accuracy", "8", "3", ""])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    settings = ask_settings(Api(server.url, KEY), say=print)
    assert settings == {"dataset": "digits", "mode": "pareto", "optimize_for": "val_accuracy", "trials": "8",
                        "max_epochs_per_trial": "3", "min_epochs_per_trial": "3"}
    shown = capsys.readouterr().out
    assert "digits" in shown and "please answer one of: val_accuracy" in shown


def test_exit_codes(server, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = run_client(tmp_path, "--url", f"http://127.0.0.1:{closed_port}", "dataset=digits", timeout=60)
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
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
    no_terminal = subprocess.run([sys.executable, str(CLIENT), "--url", server.url, "--ask"], cwd=tmp_path,
                                 env=clean_env(HYPEROPT_API_KEY=KEY), input="", capture_output=True, text=True,
                                 timeout=60)
    assert no_terminal.returncode == 2 and "--ask needs a terminal" in no_terminal.stderr
    ask_and_settings = run_client(tmp_path, "--url", server.url, "--ask", "dataset=digits", key=KEY, timeout=60)
    assert ask_and_settings.returncode == 2 and "settings go with a new job only" in ask_and_settings.stderr


def test_unpacking_refuses_zip_slip(tmp_path):
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
        written = safe_extract(archive, dest, prefix="run")
    assert sorted(p.relative_to(dest).as_posix() for p in written) == ["plots/a.png", "summary.json"]
    assert not list(tmp_path.rglob("evil.txt")) and not (dest / "link").exists()


# --- the original system's guide: a URL without a scheme, --interactive, --debug ---


@pytest.mark.parametrize("given, expected", [
    ("abc123-8000.proxy.runpod.net", "https://abc123-8000.proxy.runpod.net"),
    ("abc123-8000.proxy.runpod.net/", "https://abc123-8000.proxy.runpod.net"),
    ("localhost:8000", "http://localhost:8000"),
    ("127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("0.0.0.0:8000", "http://0.0.0.0:8000"),
    ("[::1]:8000", "http://[::1]:8000"),
    ("::1", "http://[::1]"),
    ("http://abc123-8000.proxy.runpod.net", "http://abc123-8000.proxy.runpod.net"),
])
def test_a_url_without_a_scheme_gets_one(given, expected):
    url, added = normalize_url(given)
    assert url == expected and added == ("://" not in given)


def test_a_url_without_a_scheme_reaches_a_local_server(server, finished_run, capsys):
    bare = server.url.split("://", 1)[1]  # 127.0.0.1:PORT, as RunPod shows URLs
    entry_point = load_entry_point()
    assert entry_point.main is main
    assert entry_point.main(["--url", bare, "--api-key", KEY, "--jobs"]) == 0
    out, err = capsys.readouterr()
    assert "remote_run" in out and f"using {server.url} " in err


@pytest.fixture
def not_hpopt_server(tmp_path):
    """A plain HTTP server on a loopback port: /health is a 404 page, /ok/health a text file."""
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "health").write_text("hello, not JSON")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_wrong_url_gives_one_line_and_status_1(tmp_path, not_hpopt_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    cases = {f"127.0.0.1:{closed_port}": "cannot reach", "your-runpod-url": "cannot reach",
             "http://[::1": "cannot reach", not_hpopt_server: "not an hpopt API server",
             f"http://{not_hpopt_server}/ok": "not an hpopt API server"}
    for url, said in cases.items():
        result = run_client(tmp_path, "--url", url, "--api-key", KEY, "dataset=digits", timeout=90)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (url, result.stderr)
        assert said in lines[0] and "Traceback" not in result.stderr and KEY not in result.stderr, (url, lines)
        assert url.split("://")[-1] in lines[0] and "proxy.runpod.net" in lines[0], lines[0]


def test_debug_logs_requests_but_never_the_key(server, finished_run, capsys):
    assert main(["--url", server.url, "--api-key", KEY, "--debug", "--jobs"]) == 0
    out, err = capsys.readouterr()
    assert f"-> GET {server.url}/health" in err and f"<- 200 GET {server.url}/jobs?" in err and " ms" in err
    assert "X-API-Key: ***" in err or "x-api-key: ***" in err
    assert KEY not in out + err and "remote_run" in out


def test_interactive_with_settings_starts_the_job_and_follows_it(server, tmp_path, capsys):
    code = main(["--url", server.url, "--api-key", KEY, "--debug", "--interactive", "dataset=digits",
                               "trials=2", "max_epochs=2", "min_epochs_per_trial=1", "plot_generation=none",
                               "run_name=interactive_run", "--output-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    trial_lines = [line for line in err.splitlines() if line.startswith("trial ")]
    assert [line.split()[1] for line in trial_lines] == ["0", "1"], err
    assert all("value=" in line and "val_acc=0." in line for line in trial_lines), trial_lines
    assert "best so far" in trial_lines[-1] and "epoch=" in err, err
    assert "-> WebSocket ws://" in err and "/download" in err and KEY not in out + err
    assert (tmp_path / "interactive_run" / "summary.json").is_file()


def test_interactive_without_settings_attaches_to_the_running_job(server, tmp_path, capsys):
    with server.client(**{"X-API-Key": KEY}) as http:
        job = http.post("/optimize", json={**TINY, "trials": 3, "run_name": "attach_run"}).json()
        wait_status(http, job["job_id"], ("running",), timeout=120)
        code = main(["--url", server.url, "--api-key", KEY, "--interactive", "--no-download"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert f"following job {job['job_id']} (running): run attach_run" in err
        assert [line.split()[1] for line in err.splitlines() if line.startswith("trial ")] == ["0", "1", "2"], err
        assert wait_status(http, job["job_id"], ("completed",), timeout=30)
    again = main(["--url", server.url, "--api-key", KEY, "--interactive", job["job_id"], "--no-download"])
    assert again == 0 and "trial   2" in capsys.readouterr().err
    nothing = main(["--url", server.url, "--api-key", KEY, "--interactive"])
    err = capsys.readouterr().err
    assert nothing == 2 and "no job is running" in err and "--jobs" in err and len(err.strip().splitlines()) == 1


def test_the_client_stays_light(tmp_path):
    """--help from a plain checkout (hpopt not on sys.path) imports no TensorFlow, Keras or Optuna."""
    code = ("import runpy, sys\n"
            "sys.argv = ['optimize_runpod.py', '--help']\n"
            "try:\n"
            "    runpy.run_path(%r, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
            "heavy = {'tensorflow', 'keras', 'optuna'} & set(sys.modules)\n"
            "assert not heavy, heavy\n"
            "print('light', sys.modules['hpopt'].__file__)\n") % str(CLIENT)
    env = {k: v for k, v in clean_env().items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage: optimize_runpod.py" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == f"light {REPO / 'src' / 'hpopt' / '__init__.py'}"
