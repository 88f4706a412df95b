#!/usr/bin/env python3
"""Terminal client for an hpopt API server (on a RunPod pod, or anywhere).

    python optimize_runpod.py --url URL dataset=cifar10 mode=simple trials=15
    python optimize_runpod.py --url URL --interactive
    python optimize_runpod.py --url URL --monitor-only JOB_ID
    python optimize_runpod.py --url URL --jobs

Starts a job with the CLI's key=value settings, shows a live progress bar (WebSocket,
falling back to polling), and on completion downloads the run folder as a ZIP and
unpacks it into ./optimization_results/<run_name>/. The URL and key may also come from
HYPEROPT_API_URL and HYPEROPT_API_KEY. Ctrl-C detaches: the job keeps running.

Exit status: 0 completed, 1 the job failed (or was stopped), 2 bad arguments or
settings, 3 server unreachable, 4 unauthorized (missing or wrong API key), 130 detached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import httpx

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_UNAUTHORIZED, EXIT_DETACHED = 0, 1, 2, 3, 4, 130
TERMINAL = ("completed", "failed", "cancelled", "interrupted")


class ClientError(Exception):
    """Ends the client with ``code`` after printing the message."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Api:
    """The few calls the client makes, with errors turned into exit statuses."""

    def __init__(self, url: str, api_key: Optional[str], timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
            raise ClientError(f"cannot reach the server at {self.url}: {exc}. Is it running, and is the URL right "
                              "(RunPod: https://<pod id>-8000.proxy.runpod.net)?", EXIT_UNREACHABLE) from None
        if response.status_code == 401:
            raise ClientError(f"the server at {self.url} refused the API key (401): pass --api-key or set "
                              "HYPEROPT_API_KEY to the server's key", EXIT_UNAUTHORIZED)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ClientError(f"{method} {path} answered {response.status_code}: {_detail(response)}", EXIT_JOB_FAILED)
        return response.json()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:500]
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ClientError(f"expected key=value, got {pair!r} (e.g. dataset=cifar10 trials=15)", EXIT_USAGE)
        settings[key.strip()] = value
    return settings


def submit(api: Api, settings: dict[str, Any]) -> dict[str, Any]:
    response = api.call("POST", "/optimize", json=settings)
    if response.status_code == 422:
        raise ClientError(f"invalid settings: {_detail(response)}", EXIT_USAGE)
    if response.status_code >= 400:
        raise ClientError(f"the server refused the job ({response.status_code}): {_detail(response)}", EXIT_USAGE)
    return response.json()


def trial_line(row: dict[str, Any]) -> str:
    value = row.get("value")
    shown = "/".join(f"{v:.4f}" for v in value if v is not None) if isinstance(value, list) else (
        "–" if value is None else f"{value:.4f}")
    acc = row.get("val_accuracy")
    return (f"trial {row.get('number'):>3} {row.get('state', '?'):<8} value={shown} "
            f"val_acc={'–' if acc is None else f'{acc:.4f}'} epochs={row.get('epochs_run', 0)} "
            f"{(row.get('duration_s') or 0):.1f}s")


class Progress:
    """A tqdm bar over the job's trials, with the running epoch as postfix."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = tqdm(total=0, unit="trial", file=sys.stderr, dynamic_ncols=True)
        self.finished: set[int] = set()

    def job(self, job: dict[str, Any]) -> None:
        progress = job.get("progress") or {}
        self.bar.total = progress.get("trials_total") or job.get("trials") or 0
        self.bar.n = progress.get("trials_finished") or 0
        self.bar.set_description(f"{job.get('run_name', '')} [{job.get('status')}]")
        self.bar.refresh()

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "state":
            self.job(event.get("job") or {})
            self.finished.update(r.get("number") for r in event.get("trials") or [])
        elif kind == "epoch":
            record = event.get("record") or {}
            self.bar.set_postfix(trial=event.get("trial"), epoch=record.get("epoch"),
                                 val_acc=f"{record.get('val_accuracy', 0):.4f}")
        elif kind == "trial_finished":
            row = event.get("row") or {}
            if row.get("number") not in self.finished:
                self.finished.add(row.get("number"))
                self._tqdm.write(trial_line(row), file=sys.stderr)
                self.bar.update(1)
        elif kind == "warning":
            self._tqdm.write(f"warning: {event.get('message')}", file=sys.stderr)
        elif kind == "job_status":
            self.bar.set_description(f"[{event.get('status')}]")

    def close(self) -> None:
        self.bar.close()


def _ws_url(api: Api, job_id: str) -> str:
    scheme = "wss" if api.url.startswith("https") else "ws"
    return f"{scheme}://{api.url.split('://', 1)[1]}/jobs/{job_id}/stream"


def follow(api: Api, job_id: str, progress: Progress, poll_s: float = 2.0) -> dict[str, Any]:
    """Show progress until the job ends; returns the final job. WebSocket first, then polling."""
    try:
        from websockets.sync.client import connect

        with connect(_ws_url(api, job_id), additional_headers=api.headers, open_timeout=15) as socket:
            for message in socket:
                event = json.loads(message)
                progress.event(event)
                if event.get("type") == "job_finished":
                    break
    except Exception as exc:  # noqa: BLE001 - any WebSocket trouble (proxy, version): poll instead
        progress._tqdm.write(f"(live stream unavailable: {exc}; polling)", file=sys.stderr)
    while True:
        job = api.json("GET", f"/jobs/{job_id}")
        progress.job(job)
        if job["status"] in TERMINAL:
            return job
        time.sleep(poll_s)


def _member_target(dest: Path, name: str, prefix: Optional[str]) -> Optional[Path]:
    """Where a ZIP member goes inside dest, or None for anything that could escape it."""
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = PurePosixPath(name).parts
    if prefix and parts and parts[0] == prefix:
        parts = parts[1:]
    if not parts or any(part in ("..", ".", "") for part in parts):
        return None
    target = dest.joinpath(*parts).resolve()
    return target if target.is_relative_to(dest.resolve()) else None


def safe_extract(archive: zipfile.ZipFile, dest: Path, prefix: Optional[str] = None) -> list[Path]:
    """Unpack regular files into dest; refuses members that would land outside it (zip slip) and symlinks."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for info in archive.infolist():
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        if info.is_dir() or is_link:
            continue
        target = _member_target(dest, info.filename, prefix)
        if target is None:
            print(f"warning: skipped unsafe entry {info.filename!r} in the results ZIP", file=sys.stderr)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        written.append(target)
    return written


def download(api: Api, job: dict[str, Any], output_dir: Path) -> Path:
    """Stream the run folder's ZIP to a temporary file, unpack it, remove the ZIP."""
    run_name = job["run_name"]
    dest = output_dir / run_name
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output_dir, prefix=f".{run_name}.", suffix=".zip", delete=False) as tmp:
        part = Path(tmp.name)
        try:
            with api.http.stream("GET", f"/jobs/{job['job_id']}/download") as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(f"download failed ({response.status_code}): {_detail(response)}", EXIT_JOB_FAILED)
                for chunk in response.iter_bytes():
                    tmp.write(chunk)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise ClientError(f"download interrupted: {exc}", EXIT_UNREACHABLE) from None
    try:
        with zipfile.ZipFile(part) as archive:
            safe_extract(archive, dest, prefix=run_name)
    finally:
        part.unlink(missing_ok=True)
    return dest


def list_jobs(api: Api) -> int:
    jobs = api.json("GET", "/jobs", params={"limit": 100})["jobs"]
    if not jobs:
        print("no jobs")
    for job in jobs:
        progress = job["progress"]
        print(f"{job['job_id']}  {job['status']:<11} {progress['trials_finished']:>3}/{progress['trials_total']:<3} "
              f"best={progress['best_value'] if progress['best_value'] is not None else '–'}  "
              f"{job['dataset']:<14} {job['run_name']}  {job['created_at']}")
    return EXIT_OK


def _ask(prompt: str, choices: Optional[list[str]] = None, default: Optional[str] = None) -> str:
    hint = f" [{'/'.join(choices)}]" if choices and len(choices) <= 10 else ""
    while True:
        try:
            answer = input(f"{prompt}{hint}{f' ({default})' if default else ''}: ").strip() or (default or "")
        except EOFError:
            raise ClientError("--interactive needs a terminal to answer questions", EXIT_USAGE) from None
        if answer and (not choices or answer in choices):
            return answer
        print(f"please answer one of: {', '.join(choices or [])}" if choices else "please answer")


def interactive_settings(api: Api) -> dict[str, str]:
    datasets = api.json("GET", "/datasets")
    for item in datasets:
        print(f"  {item['name']:<14} {item['modality']:<6} {item['description']}")
    dataset = _ask("dataset (a name above, or a path on the server)", default="digits")
    modes = {m["name"]: m for m in api.json("GET", "/modes")}
    mode = _ask("mode", list(modes), "simple")
    optimize_for = _ask("optimize_for", modes[mode]["objectives"], "val_accuracy")
    trials = _ask("trials", default="20")
    max_epochs = _ask("max_epochs_per_trial", default="10")
    min_epochs = _ask("min_epochs_per_trial", default=str(min(5, int(max_epochs)) if max_epochs.isdigit() else 1))
    return {"dataset": dataset, "mode": mode, "optimize_for": optimize_for, "trials": trials,
            "max_epochs_per_trial": max_epochs, "min_epochs_per_trial": min_epochs}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optimize_runpod.py", description="Run and follow hpopt jobs on a "
                                     "remote API server; results land in ./optimization_results/<run_name>/.",
                                     epilog="exit status: 0 completed, 1 job failed or stopped, 2 bad arguments, "
                                            "3 unreachable, 4 unauthorized, 130 detached (Ctrl-C)")
    parser.add_argument("--url", default=os.environ.get("HYPEROPT_API_URL", "http://127.0.0.1:8000"),
                        help="API server URL (default: HYPEROPT_API_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", default=os.environ.get("HYPEROPT_API_KEY"),
                        help="the server's API key (default: HYPEROPT_API_KEY)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--interactive", action="store_true", help="ask for the settings")
    group.add_argument("--monitor-only", metavar="JOB_ID", help="follow an existing job (and download it)")
    group.add_argument("--jobs", action="store_true", help="list the server's jobs and exit")
    parser.add_argument("--output-dir", type=Path, default=Path("optimization_results"),
                        help="where run folders are unpacked (default: ./optimization_results)")
    parser.add_argument("--no-download", action="store_true", help="do not download the results")
    parser.add_argument("settings", nargs="*", metavar="key=value", help="settings, as for src/optimizer.py")
    return parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if (args.jobs or args.monitor_only or args.interactive) and args.settings:
        raise ClientError("key=value settings go with a new job only (not --jobs, --monitor-only or --interactive)",
                          EXIT_USAGE)
    api = Api(args.url, args.api_key)
    if args.jobs:
        return list_jobs(api)
    api.json("GET", "/health")
    if args.monitor_only:
        response = api.call("GET", f"/jobs/{args.monitor_only}")
        if response.status_code == 404:
            raise ClientError(f"no job {args.monitor_only!r} on {api.url}; --jobs lists them", EXIT_USAGE)
        job = response.json()
    else:
        settings = interactive_settings(api) if args.interactive else parse_settings(args.settings)
        job = submit(api, settings)
        print(f"job {job['job_id']} ({job['status']}): run {job['run_name']}", file=sys.stderr)
    progress = Progress()
    try:
        job = follow(api, job["job_id"], progress)
    except KeyboardInterrupt:
        progress.close()
        print(f"\ndetached: job {job['job_id']} keeps running. Follow it again with --monitor-only {job['job_id']}, "
              f"or stop it with: curl -X POST {api.url}/jobs/{job['job_id']}/stop", file=sys.stderr)
        return EXIT_DETACHED
    progress.close()
    print(f"job {job['job_id']} {job['status']}" + (f": {job['error']}" if job.get("error") else ""), file=sys.stderr)
    if not args.no_download and job["progress"]["trials_finished"]:
        print(f"results: {download(api, job, args.output_dir)}")
    return EXIT_OK if job["status"] == "completed" else EXIT_JOB_FAILED


def main(argv: Optional[list[str]] = None) -> int:
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
