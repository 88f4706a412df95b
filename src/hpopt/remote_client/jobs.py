"""The job commands: start one from key=value settings, list them, pick the one to follow.

What the client asks the server to do with jobs, apart from watching them (follow) and
fetching their results (download).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpopt.remote_client.errors import EXIT_USAGE, ClientError
from hpopt.remote_client.server_api import Api, error_detail, json_body


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ClientError(f"expected key=value, got {pair!r} (e.g. dataset=cifar10 trials=15)", EXIT_USAGE)
        settings[key.strip()] = _search_space(value) if key.strip() == "search_space" else value
    return settings


def _search_space(path: str) -> Any:
    """search_space=file.yaml: the server takes the file's content (a request never names server
    files), so the client reads it here; the server checks it."""
    import yaml

    try:
        return yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ClientError(f"search_space={path}: cannot read this YAML file ({exc})", EXIT_USAGE) from None


def submit(api: Api, settings: dict[str, Any]) -> dict[str, Any]:
    response = api.call("POST", "/optimize", json=settings)
    if response.status_code == 422:
        raise ClientError(f"invalid settings: {error_detail(response)}", EXIT_USAGE)
    if response.status_code >= 400:
        raise ClientError(f"the server refused the job ({response.status_code}): {error_detail(response)}",
                          EXIT_USAGE)
    return json_body(response, api.url)


def job_lines(api: Api) -> list[str]:
    """--jobs: one line per job of the server (newest 100), for the terminal."""
    jobs = api.json("GET", "/jobs", params={"limit": 100})["jobs"]
    if not jobs:
        return ["no jobs"]
    return [f"{job['job_id']}  {job['status']:<11} {job['progress']['trials_finished']:>3}/"
            f"{job['progress']['trials_total']:<3} best={_shown(job['progress']['best_value'])}  "
            f"{job['dataset']:<14} {job['run_name']}  {job['created_at']}" for job in jobs]


def _shown(value: Any) -> str:
    return "–" if value is None else str(value)


def job_to_follow(api: Api) -> dict[str, Any]:
    """--interactive without settings: the most recently started running job, else the next pending one."""
    running = api.json("GET", "/jobs", params={"status": "running", "limit": 1})["jobs"]
    if running:
        return running[0]
    pending = api.json("GET", "/jobs", params={"status": "pending", "limit": 500})["jobs"]
    if pending:
        return min(pending, key=lambda job: job.get("queue_position") or 1_000_000)
    raise ClientError(f"no job is running or pending on {api.url}: start one with key=value settings "
                      "(e.g. dataset=cifar10 trials=15), or list earlier ones with --jobs and follow one with "
                      "--interactive JOB_ID", EXIT_USAGE)
