"""notify_url: one webhook POST per finished and per failed run, from the CLI and from an API
job, to a listener on 127.0.0.1; retries, the time bound, and the token never written down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from api_helpers import TINY, ApiServer, clean_env, wait_for, wait_status
from webhook_receiver import WebhookReceiver

from hpopt.masking import masked_config, url_origin
from hpopt.notify import notify, post_json

REPO = Path(__file__).resolve().parents[1]
CLI_ARGS = ["dataset=digits", "trials=2", "max_epochs_per_trial=1", "min_epochs_per_trial=1", "n_startup_trials=1",
            "plot_generation=none", "save_best_model=false", "pruner=none"]
TOKEN = "secret-token-123"


def run_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "src" / "optimizer.py"), *args], cwd=workdir,
                          env=clean_env(), capture_output=True, text=True, timeout=300)


# ---- the sender -------------------------------------------------------------------------------------------

def test_retries_a_failing_receiver_then_delivers_once():
    with WebhookReceiver(fail_first=2) as hook:
        assert post_json(hook.url, {"status": "finished"}, backoff_s=0.05) is True
    assert hook.attempts == 3 and hook.posts == [{"status": "finished"}]


def test_gives_up_after_three_tries():
    with WebhookReceiver(fail_first=100) as hook:
        assert post_json(hook.url, {"status": "failed"}, backoff_s=0.05) is False
    assert hook.attempts == 3 and hook.posts == []


def test_does_not_follow_redirects():
    """A redirect would lead past the API's notify_allowed_hosts check."""
    with WebhookReceiver(status=302) as hook:
        assert post_json(hook.url, {"status": "finished"}, backoff_s=0.05) is False
    assert hook.attempts == 1


def test_a_silent_receiver_holds_the_caller_for_the_budget_only():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does), never answers
    try:
        started = time.monotonic()
        result = notify(f"http://127.0.0.1:{silent.getsockname()[1]}/hook", {"status": "finished"}, budget_s=1.5)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result in (None, False) and elapsed < 3.0


def test_the_url_is_shown_as_scheme_and_host_only():
    url = "https://user:pw@hooks.example.com:8443/services/T0/B0/XyZ?token=abc"
    assert url_origin(url) == "https://hooks.example.com:8443/***"
    assert masked_config({"notify_url": url})["notify_url"] == "https://hooks.example.com:8443/***"
    assert url_origin("https://hooks.example.com") == "https://hooks.example.com"


# ---- the CLI ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """One finished and one failed CLI run (timeout_hours far too short: no trial completes), one receiver."""
    work = tmp_path_factory.mktemp("notify_cli")
    with WebhookReceiver() as hook:
        finished = run_cli(work, *CLI_ARGS, "results_dir=res", "run_name=ok", f"notify_url={hook.url}")
        failed = run_cli(work, *CLI_ARGS, "results_dir=res", "run_name=late", "timeout_hours=1e-7",
                         f"notify_url={hook.url}")
        time.sleep(0.5)  # a second POST, if any, would arrive now
    return {"work": work, "finished": finished, "failed": failed, "hook": hook}


def test_cli_posts_exactly_once_per_finished_and_per_failed_run(cli_runs):
    finished, failed, hook = cli_runs["finished"], cli_runs["failed"], cli_runs["hook"]
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert failed.returncode != 0, failed.stderr[-3000:]
    assert [post["status"] for post in hook.posts] == ["finished", "failed"], hook.posts
    assert all(path == "/hooks/T0/" + TOKEN for path in hook.paths)  # the URL as given, token included


def test_cli_webhook_carries_the_run_name_best_value_and_results_path(cli_runs):
    done, late = cli_runs["hook"].posts
    run_dir = Path(cli_runs["finished"].stdout.strip().splitlines()[-1].removeprefix("results: "))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert done["run_name"] == "ok" and done["results"] == str(run_dir.resolve())
    assert done["best_value"] == pytest.approx(summary["best_trial"]["value"])
    assert done["n_trials"] == summary["n_trials"] == 2 and done["n_complete"] == summary["n_complete"]
    assert late["run_name"] == "late" and late["best_value"] is None and "no trial completed" in late["error"]


def test_cli_never_writes_the_token(cli_runs):
    run_dir = cli_runs["work"] / "res" / "ok"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["notify_url"] == url_origin(cli_runs["hook"].url)
    assert summary["config"]["notify_url"].endswith("/***")
    for text in ((run_dir / "summary.json").read_text(), (cli_runs["work"] / "logs" / "optimization.log").read_text(),
                 cli_runs["finished"].stderr, cli_runs["failed"].stderr):
        assert TOKEN not in text


def test_cli_posts_interrupted_on_ctrl_c(tmp_path, monkeypatch):
    """Ctrl-C in the run (a fake runner here: no TensorFlow) sends status "interrupted", exit 130."""
    import types

    from hpopt import cli

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "hpopt.runner", types.SimpleNamespace(run_optimization=interrupted))
    monkeypatch.setattr("hpopt.interrupts.install", lambda *a, **k: None)
    monkeypatch.chdir(tmp_path)
    with WebhookReceiver() as hook:
        code = cli.main(["dataset=digits", "run_name=cut", f"results_dir={tmp_path / 'res'}",
                         f"notify_url={hook.url}"])
    assert code == 130
    assert [(post["status"], post["run_name"]) for post in hook.posts] == [("interrupted", "cut")]


def test_a_bad_notify_url_exits_2_naming_the_key(tmp_path):
    result = run_cli(tmp_path, "notify_url=ftp://example.com/x")
    assert result.returncode == 2 and "notify_url" in result.stderr and "http" in result.stderr


# ---- the API ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_jobs(tmp_path_factory):
    """A server allowing 127.0.0.1 as webhook host; one job that finishes, one that fails."""
    work = tmp_path_factory.mktemp("notify_api")
    with WebhookReceiver() as hook:
        server = ApiServer(work, work / "results", "max_concurrent_jobs=2", "notify_allowed_hosts=127.0.0.1").start()
        try:
            with server.client() as client:
                refused = client.post("/optimize", json={**TINY, "trials": 1,
                                                         "notify_url": "http://192.0.2.1/" + TOKEN})
                ok = client.post("/optimize", json={**TINY, "trials": 1, "run_name": "api_ok", "notify_url": hook.url})
                bad = client.post("/optimize", json={**TINY, "trials": 1, "run_name": "api_late",
                                                     "timeout_hours": 1e-7, "notify_url": hook.url})
                assert ok.status_code == 201 and bad.status_code == 201, (ok.text, bad.text)
                jobs = {"ok": wait_status(client, ok.json()["job_id"], ("completed", "failed"), timeout=240),
                        "bad": wait_status(client, bad.json()["job_id"], ("completed", "failed"), timeout=240)}
                wait_for(lambda: len(hook.posts) >= 2, 30, "two webhook POSTs")
                time.sleep(0.5)
                views = {name: client.get(f"/jobs/{job['job_id']}").json() for name, job in jobs.items()}
        finally:
            server.stop()
    return {"hook": hook, "refused": refused, "jobs": jobs, "views": views, "server": server}


def test_api_job_posts_once_when_it_completes_and_once_when_it_fails(api_jobs):
    jobs, posts = api_jobs["jobs"], api_jobs["hook"].posts
    assert jobs["ok"]["status"] == "completed" and jobs["bad"]["status"] == "failed"
    by_job = {post["job_id"]: post for post in posts}
    assert len(posts) == 2 and len(by_job) == 2, posts
    done, failed = by_job[jobs["ok"]["job_id"]], by_job[jobs["bad"]["job_id"]]
    assert done["status"] == "finished" and done["run_name"] == "api_ok" and done["best_value"] is not None
    assert done["job_url"] == f"{api_jobs['server'].url}/jobs/{jobs['ok']['job_id']}"
    assert failed["status"] == "failed" and failed["run_name"] == "api_late" and failed["best_value"] is None


def test_api_refuses_a_host_the_operator_did_not_allow(api_jobs):
    refused = api_jobs["refused"]
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"][-1] == "notify_url" and "notify_allowed_hosts" in detail["msg"]
    assert TOKEN not in refused.text


def test_api_shows_the_webhook_as_scheme_and_host_only(api_jobs):
    for view in api_jobs["views"].values():
        text = json.dumps(view)
        assert TOKEN not in text
        assert view["config"]["notify_url"] == url_origin(api_jobs["hook"].url)


def test_api_refuses_every_notify_url_by_default(tmp_path):
    """No notify_allowed_hosts: the 422 names the setting (checked without a server: same function)."""
    from hpopt.api.optimize_request import RequestError, check_notify_url
    from hpopt.api.settings import load_settings
    from hpopt.config import load_config

    config = load_config(["notify_url=http://127.0.0.1:9/x"], environ={}, env_file=None)
    with pytest.raises(RequestError, match="notify_allowed_hosts.*none"):
        check_notify_url(config, load_settings(environ={}, env_file=None))
    check_notify_url(config, load_settings(["notify_allowed_hosts=127.0.0.1"], environ={}, env_file=None))
