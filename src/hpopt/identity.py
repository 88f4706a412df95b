"""Who runs a trial: recorded per trial so a reader knows which worker (host, process) trained it."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Optional


def worker_name() -> str:
    """``<host>:<pid>``: unique among live workers, readable in summary.json."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_namespace() -> Optional[str]:
    """This process's PID namespace (Linux), recorded beside worker_name: containers that share
    a host name (host networking) number their processes apart, so a pid is only comparable
    within one namespace."""
    try:
        info = os.stat("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{info.st_dev}:{info.st_ino}"


def worker_gone(worker: Optional[str], namespace: Optional[str] = None) -> bool:
    """Whether the worker named ``<host>:<pid>`` (see worker_name) provably died: it ran on
    this host, in this PID namespace when ``namespace`` (its pid_namespace) is known, and its
    process no longer exists or is a zombie nobody reaped yet.

    Anything not provable here (another host or namespace, no or a malformed name, a pid this
    user may not signal) reads as alive: heartbeats catch those. A pid reused by an unrelated
    process also reads as alive, the safe side.
    """
    if not worker or ":" not in worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or (namespace is not None and namespace != pid_namespace()):
        return False
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0 or os.name == "nt":  # on Windows os.kill(pid, 0) would terminate the process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    try:  # Linux: a killed child its parent has not waited for yet still answers signal 0
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")
