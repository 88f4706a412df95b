"""Job processes at the OS level: start, signal, and tell alive from gone.

A job's liveness is its lock on job.lock, not its pid: after a server restart the pid in
the database may belong to anyone, but only the job process can hold that lock. The
lock is an advisory flock (fcntl), released by the kernel however the process ends.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Optional

try:  # POSIX; on Windows a job counts as alive while its pid runs
    import fcntl
except ImportError:  # pragma: no cover - not on the server's platforms
    fcntl = None  # type: ignore[assignment]

__all__ = ["JobProcess", "hold_lock", "lock_held", "pid_alive", "src_root"]

logger = logging.getLogger(__name__)


def src_root() -> Path:
    """The folder holding the hpopt package, put on the job process's PYTHONPATH."""
    import hpopt

    return Path(hpopt.__file__).resolve().parent.parent


def hold_lock(path: Path) -> IO[str]:
    """Take job.lock for the life of the calling process; the returned file keeps it."""
    handle = path.open("a+")
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def lock_held(path: Path) -> bool:
    """True while some process holds the job's lock (i.e. the job process still runs)."""
    if fcntl is None or not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobProcess:
    """A job process this server started (Popen), or one it found alive after a restart."""

    def __init__(self, pid: int, popen: Optional[subprocess.Popen] = None, lock_path: Optional[Path] = None) -> None:
        self.pid = pid
        self.popen = popen
        self.lock_path = lock_path

    @classmethod
    def start(cls, job_dir: Path, attempt: int, nice: int, log_path: Path, hard_stop_after: float) -> "JobProcess":
        """Spawn the job runner in its own session, so a Ctrl-C meant for the server is not its."""
        env = {k: v for k, v in os.environ.items() if k != "HYPEROPT_API_KEY"}  # the job never needs the key
        env["PYTHONPATH"] = os.pathsep.join([str(src_root()), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, "-m", "hpopt.jobs.job_process", "--job-dir", str(job_dir),
                   "--attempt", str(attempt), "--parent-pid", str(os.getpid()), "--nice", str(nice),
                   "--hard-stop-after", str(hard_stop_after)]
        with log_path.open("ab") as log:
            popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=(os.name == "posix"))
        return cls(popen.pid, popen, job_dir / "job.lock")

    def exit_code(self) -> Optional[int]:
        """The exit status once it ended, None while it runs (adopted processes: -1 when gone)."""
        if self.popen is not None:
            return self.popen.poll()
        if self.lock_path is not None and fcntl is not None:
            return None if lock_held(self.lock_path) else -1
        return None if pid_alive(self.pid) else -1

    def interrupt(self) -> None:
        """SIGINT: the runner ends the running trial and writes the finished trials' results."""
        self._signal(signal.SIGINT if os.name == "posix" else signal.CTRL_C_EVENT)  # type: ignore[attr-defined]

    def terminate(self) -> None:
        """SIGTERM: as interrupt(), but the job knows the server, not a user, stopped it (its
        running trial reads stop_reason "server", not "user")."""
        self._signal(signal.SIGTERM if os.name == "posix" else signal.CTRL_C_EVENT)  # type: ignore[attr-defined]

    def kill(self) -> None:
        """SIGKILL to the job's whole process group: worker processes (workers=N) go with it."""
        self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM, group=os.name == "posix")

    def _signal(self, signum: int, group: bool = False) -> None:
        if self.exit_code() is not None:
            return
        try:
            if group and os.getpgid(self.pid) == self.pid:  # started with start_new_session: leads its group
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            pass
        except OSError as exc:
            logger.warning("cannot signal job process %d: %s", self.pid, exc)
