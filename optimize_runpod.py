#!/usr/bin/env python3
"""Terminal client for an hpopt API server (on a RunPod pod, or anywhere).

    python optimize_runpod.py --url URL dataset=cifar10 mode=simple trials=15
    python optimize_runpod.py --url URL --interactive [JOB_ID]
    python optimize_runpod.py --url URL --monitor-only JOB_ID
    python optimize_runpod.py --url URL --jobs
    python optimize_runpod.py --url URL --ask
    python optimize_runpod.py --url URL --debug ...

Starts a job with the CLI's key=value settings, shows it live (WebSocket, falling back to
polling): a progress bar with the running trial's epoch and the best so far, and one line
per finished trial. On completion it downloads the run folder as a ZIP and unpacks it into
./optimization_results/<run_name>/. ``--interactive`` without settings attaches to the
job that is running (else the next pending one); ``--ask`` asks for the settings.
``--debug`` logs every HTTP request and response status to stderr (never the API key).

A URL without a scheme (``abc123-8000.proxy.runpod.net``, as RunPod shows it) gets
``https://``; localhost, 127.0.0.1, ::1 and 0.0.0.0 get ``http://``. The URL and key may
also come from HYPEROPT_API_URL and HYPEROPT_API_KEY. Ctrl-C detaches: the job keeps running.

Exit status: 0 completed, 1 the job failed (or was stopped), or the server is unreachable
or not an hpopt API server, 2 bad arguments or settings (or nothing to follow),
4 unauthorized (missing or wrong API key), 130 detached.
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

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_UNAUTHORIZED, EXIT_DETACHED = 0, 1, 2, 1, 4, 130
TERMINAL = ("completed", "failed", "cancelled", "interrupted")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
URL_HINT = ("check the URL (RunPod's is https://<pod id>-8000.proxy.runpod.net, under Connect > HTTP Service) "
            "and that the pod and `python src/api_server.py` are running")
SECRET_HEADERS = ("x-api-key", "authorization")


class ClientError(Exception):
    """Ends the client with ``code`` after printing the message."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def normalize_url(url: str) -> tuple[str, bool]:
    """The URL with a scheme, and whether one was added: RunPod shows its proxy URLs without one.

    Loopback hosts get http:// (a local server has no TLS), everything else https://.
    """
    url = url.strip()
    if "://" in url:
        return url.rstrip("/"), False
    hostport, sep, rest = url.partition("/")
    if hostport.startswith("["):
        host = hostport[1:].partition("]")[0]
    elif hostport.count(":") > 1:  # a bare IPv6 address such as ::1
        host, hostport = hostport, f"[{hostport}]"
    else:
        host = hostport.partition(":")[0]
    host = host.lower()
    scheme = "http" if host in LOCAL_HOSTS or host.startswith("127.") else "https"
    return f"{scheme}://{hostport}{sep}{rest}".rstrip("/"), True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _unreachable(url: str, exc: BaseException, note: str = "") -> ClientError:
    return ClientError(f"cannot reach an hpopt API server at {url} ({note}{_one_line(exc)}): {URL_HINT}",
                       EXIT_UNREACHABLE)


def _shown_url(url: httpx.URL) -> str:
    """The URL for a log line, with any api_key in the query string masked."""
    if "api_key" not in url.params:
        return str(url)
    return str(url.copy_set_param("api_key", "***"))


class DebugLog:
    """httpx event hooks that log each request and its response status to stderr.

    Header values are never logged; the names of the key headers sent are, so a missing
    key shows.
    """

    def __init__(self) -> None:
        self._started: dict[int, float] = {}

    @staticmethod
    def write(line: str) -> None:
        from tqdm import tqdm  # keeps the line off a running progress bar

        tqdm.write(f"[debug] {line}", file=sys.stderr)

    def request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.monotonic()
        keys = [name for name in request.headers if name.lower() in SECRET_HEADERS]
        self.write(f"-> {request.method} {_shown_url(request.url)}" + (f" ({', '.join(keys)}: ***)" if keys else ""))

    def response(self, response: httpx.Response) -> None:
        request = response.request
        started = self._started.pop(id(request), None)
        elapsed = f" {(time.monotonic() - started) * 1000:.0f} ms" if started is not None else ""
        self.write(f"<- {response.status_code} {request.method} {_shown_url(request.url)}{elapsed}")


class Api:
    """The few calls the client makes, with errors turned into exit statuses."""

    def __init__(self, url: str, api_key: Optional[str], timeout: float = 30.0, debug: bool = False,
                 note: str = "") -> None:
        self.url = url.rstrip("/")
        self.note = note  # said in connection errors (e.g. that the client added the scheme)
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.debug = DebugLog() if debug else None
        hooks = {"request": [self.debug.request], "response": [self.debug.response]} if self.debug else {}
        try:
            self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, event_hooks=hooks)
        except httpx.InvalidURL as exc:
            raise _unreachable(self.url, exc, self.note) from None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise _unreachable(self.url, exc, self.note) from None
        if response.status_code == 401:
            raise ClientError(f"the server at {self.url} refused the API key (401): pass --api-key or set "
                              "HYPEROPT_API_KEY to the server's key", EXIT_UNAUTHORIZED)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ClientError(f"{method} {path} answered {response.status_code}: {_detail(response)}", EXIT_JOB_FAILED)
        return _body(response, self.url)

    def check_server(self) -> dict[str, Any]:
        """GET /health, refusing anything that is not an hpopt API server (a wrong port, a pod
        whose server is not up, a proxy's error page) with one line naming the URL."""
        response = self.call("GET", "/health")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok" and "jobs" in body:
            return body
        what = f"GET /health answered {response.status_code}"
        if 300 <= response.status_code < 400 and response.headers.get("location"):
            what += f", a redirect to {response.headers['location']}"
        elif body is None:
            what += f" with {response.headers.get('content-type', 'no content type').split(';')[0]}, not JSON"
        raise ClientError(f"{self.url} answered but is not an hpopt API server ({self.note}{what}): {URL_HINT}",
                          EXIT_UNREACHABLE)


def _body(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ClientError(f"{response.request.method} {response.request.url.path} on {url} answered "
                          f"{response.status_code} without JSON: is {url} an hpopt API server?",
                          EXIT_UNREACHABLE) from None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:500].split())
    detail = body.get("detail") if isinstance(body, dict) else body
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
    return _body(response, api.url)


def _number(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(_number(v) for v in value)
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def best_text(point: Optional[dict[str, Any]]) -> str:
    """A best_so_far point (the best epoch of any trial yet) in a few words."""
    if not point:
        return ""
    return f"{_number(point.get('value'))} (trial {point.get('trial')}, epoch {point.get('epoch')})"


def trial_line(row: dict[str, Any], best: Optional[dict[str, Any]] = None) -> str:
    """One finished trial: state, value, val_accuracy, overall health (when measured), and the best so far."""
    health = row.get("health") if isinstance(row.get("health"), dict) else {}
    overall = health.get("overall_health", row.get("overall_health"))
    line = (f"trial {row.get('number'):>3} {row.get('state', '?'):<11} value={_number(row.get('value'))} "
            f"val_acc={_number(row.get('val_accuracy'))}"
            + (f" health={_number(overall)}" if overall is not None else "")
            + f" epochs={row.get('epochs_run') or 0} {(row.get('duration_s') or 0):.1f}s")
    if row.get("state") == "failed" and row.get("failure"):
        line += f" ({' '.join(str(row['failure']).split())[:120]})"
    return line + (f"  best so far {best_text(best)}" if best else "")


class Progress:
    """A tqdm bar over the job's trials (postfix: running trial, its epoch, the best so far),
    and one line per finished trial above it."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = tqdm(total=0, unit="trial", file=sys.stderr, dynamic_ncols=True)
        self.finished: set[int] = set()
        self.trial: Optional[int] = None
        self.planned_epochs: Optional[int] = None
        self.epoch: Optional[int] = None
        self.val_acc: Optional[float] = None
        self.best: Optional[dict[str, Any]] = None
        self.run_name = ""

    def write(self, line: str) -> None:
        self._tqdm.write(line, file=sys.stderr)

    def _postfix(self) -> None:
        shown: dict[str, Any] = {}
        if self.trial is not None:
            shown["trial"] = self.trial
            if self.epoch is not None:
                shown["epoch"] = f"{self.epoch}/{self.planned_epochs}" if self.planned_epochs else self.epoch
            if self.val_acc is not None:
                shown["val_acc"] = _number(self.val_acc)
        if self.best:
            shown["best"] = best_text(self.best)
        self.bar.set_postfix(shown)

    def job(self, job: dict[str, Any]) -> None:
        progress = job.get("progress") or {}
        self.bar.total = progress.get("trials_total") or job.get("trials") or 0
        self.bar.n = progress.get("trials_finished") or 0
        if progress.get("best_so_far"):
            self.best = progress["best_so_far"]
        if job.get("status") not in (None, "running"):
            self.trial = None
        self.run_name = job.get("run_name") or self.run_name
        self.bar.set_description(f"{self.run_name} [{job.get('status')}]")
        self._postfix()

    def trial_finished(self, row: dict[str, Any]) -> bool:
        """Print a finished trial once; True when it was new."""
        number = row.get("number")
        if not isinstance(number, int) or number in self.finished:
            return False
        self.finished.add(number)
        if number == self.trial:
            self.trial = None
        self.write(trial_line(row, self.best))
        return True

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "state":
            self.job(event.get("job") or {})
            current = event.get("current_trial") or {}
            if current:
                epochs = current.get("epochs") or []
                self.trial, self.planned_epochs = current.get("number"), current.get("planned_epochs")
                self.epoch = (epochs[-1].get("epoch") if epochs else None)
                self.val_acc = (epochs[-1].get("val_accuracy") if epochs else None)
            for row in sorted(event.get("trials") or [], key=lambda r: r.get("number", 0)):
                self.trial_finished(row)
            self._postfix()
        elif kind == "trial_started":
            params = event.get("params") or {}
            self.trial, self.epoch, self.val_acc = event.get("trial"), None, None
            self.planned_epochs = params.get("epochs") if isinstance(params.get("epochs"), int) else None
            self._postfix()
        elif kind == "epoch":
            record = event.get("record") or {}
            self.trial, self.epoch, self.val_acc = event.get("trial"), record.get("epoch"), record.get("val_accuracy")
            self._postfix()
        elif kind == "best_so_far" and isinstance(event.get("point"), dict):
            self.best = event["point"]
            self._postfix()
        elif kind == "trial_finished":
            if self.trial_finished(event.get("row") or {}):
                self.bar.update(1)
            self._postfix()
        elif kind in ("job_status", "job_finished"):
            self.bar.set_description(f"{self.run_name} [{event.get('status')}]")

    def close(self) -> None:
        self.bar.close()


def _ws_url(api: Api, job_id: str) -> str:
    scheme = "wss" if api.url.startswith("https") else "ws"
    return f"{scheme}://{api.url.split('://', 1)[1]}/jobs/{job_id}/stream"


def _stream(api: Api, job_id: str, progress: Progress) -> None:
    """Feed the job's WebSocket events to the display until the job ends or the socket closes."""
    from websockets.sync.client import connect

    url = _ws_url(api, job_id)
    if api.debug:
        api.debug.write(f"-> WebSocket {url}" + (" (X-API-Key: ***)" if api.headers else ""))
    with connect(url, additional_headers=api.headers, open_timeout=15) as socket:
        for message in socket:
            event = json.loads(message)
            progress.event(event)
            if event.get("type") == "job_finished":
                break
    if api.debug:
        api.debug.write(f"<- WebSocket closed {url}")


def follow(api: Api, job_id: str, progress: Progress, poll_s: float = 2.0) -> dict[str, Any]:
    """Show progress until the job ends; returns the final job. WebSocket first, then polling."""
    try:
        _stream(api, job_id, progress)
    except Exception as exc:  # noqa: BLE001 - any WebSocket trouble (proxy, version): poll instead
        progress.write(f"(live stream unavailable: {_one_line(exc)}; polling)")
    while True:
        job = api.json("GET", f"/jobs/{job_id}")
        if (job.get("progress") or {}).get("trials_finished", 0) > len(progress.finished):
            for row in api.json("GET", f"/jobs/{job_id}/trials").get("trials", []):
                progress.trial_finished(row)
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
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            part.unlink(missing_ok=True)
            raise ClientError(f"download from {api.url} interrupted ({_one_line(exc)}): run again with "
                              f"--monitor-only {job['job_id']} to retry", EXIT_UNREACHABLE) from None
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
            raise ClientError("--ask needs a terminal to answer questions (or give key=value settings)",
                              EXIT_USAGE) from None
        if answer and (not choices or answer in choices):
            return answer
        print(f"please answer one of: {', '.join(choices or [])}" if choices else "please answer")


def ask_settings(api: Api) -> dict[str, str]:
    """--ask: the main settings, asked one by one with the server's datasets and modes as choices."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimize_runpod.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run and follow hpopt jobs on a remote API server; results land in "
                    "./optimization_results/<run_name>/.",
        epilog="examples:\n"
               "  optimize_runpod.py --url abc123-8000.proxy.runpod.net dataset=cifar10 mode=simple trials=15\n"
               "  optimize_runpod.py --url abc123-8000.proxy.runpod.net --interactive   (follow the running job)\n"
               "  optimize_runpod.py --url abc123-8000.proxy.runpod.net --debug --jobs\n\n"
               "A URL without a scheme gets https:// (http:// for localhost, 127.0.0.1, ::1, 0.0.0.0).\n"
               "exit status: 0 completed, 1 job failed or stopped, or server unreachable / not an hpopt API\n"
               "server, 2 bad arguments or settings, or nothing to follow, 4 unauthorized, 130 detached (Ctrl-C)")
    parser.add_argument("--url", default=os.environ.get("HYPEROPT_API_URL", "http://127.0.0.1:8000"),
                        help="API server URL; RunPod's abc123-8000.proxy.runpod.net works as shown "
                             "(default: HYPEROPT_API_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", default=os.environ.get("HYPEROPT_API_KEY"),
                        help="the server's API key (default: HYPEROPT_API_KEY)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--interactive", nargs="?", const=True, default=False, metavar="JOB_ID",
                       help="follow a run live: the job the settings start, else JOB_ID, else the job that is "
                            "running (or next pending); Ctrl-C detaches and leaves it running")
    group.add_argument("--monitor-only", metavar="JOB_ID", help="follow an existing job (and download it)")
    group.add_argument("--jobs", action="store_true", help="list the server's jobs and exit")
    group.add_argument("--ask", action="store_true", help="ask for the main settings one by one, then start the job")
    parser.add_argument("--output-dir", type=Path, default=Path("optimization_results"),
                        help="where run folders are unpacked (default: ./optimization_results)")
    parser.add_argument("--no-download", action="store_true", help="do not download the results")
    parser.add_argument("--debug", action="store_true",
                        help="log each HTTP request and response status to stderr (the API key is never shown)")
    parser.add_argument("settings", nargs="*", metavar="key=value", help="settings, as for src/optimizer.py")
    return parser


def _parse_args(argv: list[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if isinstance(args.interactive, str) and "=" in args.interactive:  # `--interactive dataset=x`: a setting
        args.settings.insert(0, args.interactive)
        args.interactive = True
    job_id = args.interactive if isinstance(args.interactive, str) else None
    if (args.jobs or args.monitor_only or args.ask or job_id) and args.settings:
        raise ClientError("key=value settings go with a new job only (not --jobs, --monitor-only, --ask or "
                          "--interactive JOB_ID)", EXIT_USAGE)
    return args


def run(argv: list[str]) -> int:
    args = _parse_args(argv)
    if not args.url.strip():
        raise ClientError("--url is empty: give the server's URL, e.g. abc123-8000.proxy.runpod.net", EXIT_USAGE)
    url, scheme_added = normalize_url(args.url)
    scheme = url.split("://", 1)[0] + "://"
    api = Api(url, args.api_key, debug=args.debug, note=f"{scheme} added to {args.url.strip()}; " if scheme_added
              else "")
    api.check_server()
    if scheme_added:  # after the check, so that a wrong URL still gives one line (which says this too)
        print(f"using {url} ({args.url.strip()} has no scheme)", file=sys.stderr)
    if args.jobs:
        return list_jobs(api)
    job_id = args.monitor_only or (args.interactive if isinstance(args.interactive, str) else None)
    if job_id:
        response = api.call("GET", f"/jobs/{job_id}")
        if response.status_code == 404:
            raise ClientError(f"no job {job_id!r} on {api.url}; --jobs lists them", EXIT_USAGE)
        if response.status_code >= 400:
            raise ClientError(f"GET /jobs/{job_id} answered {response.status_code}: {_detail(response)}",
                              EXIT_JOB_FAILED)
        job = _body(response, api.url)
    elif args.interactive and not args.settings:
        job = job_to_follow(api)
        print(f"following job {job['job_id']} ({job['status']}): run {job['run_name']}", file=sys.stderr)
    else:
        settings = ask_settings(api) if args.ask else parse_settings(args.settings)
        job = submit(api, settings)
        print(f"job {job['job_id']} ({job['status']}): run {job['run_name']}", file=sys.stderr)
    progress = Progress()
    try:
        job = follow(api, job["job_id"], progress)
    except KeyboardInterrupt:
        progress.close()
        print(f"\ndetached: job {job['job_id']} keeps running. Re-attach with: python optimize_runpod.py --url "
              f"{api.url} --interactive {job['job_id']}   (stop it with: curl -X POST -H 'X-API-Key: ...' "
              f"{api.url}/jobs/{job['job_id']}/stop)", file=sys.stderr)
        return EXIT_DETACHED
    except BaseException:
        progress.close()
        raise
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
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_DETACHED


if __name__ == "__main__":
    sys.exit(main())
