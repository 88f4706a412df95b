"""RunPod serverless worker of hpopt's GPU proxy (see README.md in this folder).

Started by ``runpod.serverless.start``; locally, for development and tests:

    python gpu-proxy/handler.py --rp_serve_api --rp_api_host 127.0.0.1 --rp_api_port 8011

The logic lives in ``hpopt.gpu_proxy.worker`` (the same hpopt the client uses: one
``run_trial`` everywhere); this file only makes hpopt importable and starts the SDK.
Environment: HPOPT_PROXY_CONCURRENCY (jobs one worker runs at once, default 1),
HPOPT_PROXY_CACHE_DIR (dataset cache; default /runpod-volume/hpopt-cache when a network
volume is mounted, else a temp folder), HPOPT_PROXY_MAX_ARRAY_BYTES (cap on one payload's
decoded arrays, default 512 MiB), HYPEROPT_OFFLINE=1 (never download datasets).
"""

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")  # DEBUG would print every output (weights included)

try:
    import hpopt  # noqa: F401 - installed (the Docker image) or on PYTHONPATH
except ImportError:  # a plain checkout: hpopt lives in ../src
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import runpod  # noqa: E402

from hpopt.gpu_proxy.worker import Worker  # noqa: E402


def main() -> None:
    logging.basicConfig(level=os.environ.get("HPOPT_PROXY_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Worker()
    runpod.serverless.start({
        "handler": worker.handle,
        "concurrency_modifier": worker.concurrency_modifier,
        "return_aggregate_stream": True,  # /status and /runsync return every record too
    })


if __name__ == "__main__":
    main()
