"""The client's command line: its arguments, what each mode does, and the exit status.

``optimize_runpod.py`` at the repository root only calls main; the usage is described there
and in README.md (Remote client).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional

from hpopt.remote_client.download import download
from hpopt.remote_client.errors import EXIT_DETACHED, EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE, ClientError
from hpopt.remote_client.follow import follow
from hpopt.remote_client.jobs import job_lines, job_to_follow, parse_settings, submit
from hpopt.remote_client.progress import Progress
from hpopt.remote_client.prompts import ask_settings
from hpopt.remote_client.server_api import Api, error_detail, json_body
from hpopt.remote_client.urls import normalize_url


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
        print("\n".join(job_lines(api)))
        return EXIT_OK
    job_id = args.monitor_only or (args.interactive if isinstance(args.interactive, str) else None)
    if job_id:
        response = api.call("GET", f"/jobs/{job_id}")
        if response.status_code == 404:
            raise ClientError(f"no job {job_id!r} on {api.url}; --jobs lists them", EXIT_USAGE)
        if response.status_code >= 400:
            raise ClientError(f"GET /jobs/{job_id} answered {response.status_code}: {error_detail(response)}",
                              EXIT_JOB_FAILED)
        job = json_body(response, api.url)
    elif args.interactive and not args.settings:
        job = job_to_follow(api)
        print(f"following job {job['job_id']} ({job['status']}): run {job['run_name']}", file=sys.stderr)
    else:
        settings = ask_settings(api, say=print) if args.ask else parse_settings(args.settings)
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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")  # e.g. unsafe ZIP entries
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_DETACHED
