"""Who runs a trial: recorded per trial so a reader knows which worker (host, process) trained it."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """``<host>:<pid>``: unique among live workers, readable in summary.json."""
    return f"{socket.gethostname()}:{os.getpid()}"
