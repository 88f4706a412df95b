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

The client lives in src/hpopt/remote_client/ (README.md, Layout); this file makes hpopt
importable from a plain checkout and calls its main.

Exit status: 0 completed, 1 the job failed (or was stopped), or the server is unreachable
or not an hpopt API server, 2 bad arguments or settings (or nothing to follow),
4 unauthorized (missing or wrong API key), 130 detached.
"""

import sys
from pathlib import Path

try:
    import hpopt  # noqa: F401 - installed, or on PYTHONPATH
except ImportError:  # a plain checkout: hpopt lives in ./src
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from hpopt.remote_client.cli import main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
