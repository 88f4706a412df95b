"""Cooperative Ctrl-C: a stop request takes effect at a safe point.

A KeyboardInterrupt raised by the signal itself lands wherever the main thread happens
to be: inside TensorFlow or a finalizer it can be lost or leave a lock held, and then the
results of the finished trials are never written. So SIGINT/SIGTERM only set a flag;
training checks it after every batch and raises KeyboardInterrupt there (the runner's
clean path: the running trial ends, finished trials are written, exit 130). If no safe
point comes within ``hard_after`` seconds, or a second signal arrives, the interrupt is
raised where the code is.

The flag is process-wide because signals are: this module holds the one piece of
process state that hpopt keeps besides its loggers.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any, Optional

logger = logging.getLogger(__name__)

_requested = threading.Event()
_delivered = threading.Event()


def request_stop(reason: str = "stop requested") -> None:
    """Ask the run to stop at the next safe point (also usable without a signal)."""
    if not _requested.is_set():
        logger.warning("%s: the running trial ends after its current batch", reason)
    _requested.set()


def stop_requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """At a safe point: raise the requested stop as KeyboardInterrupt (once)."""
    if _requested.is_set() and not _delivered.is_set():
        _delivered.set()
        raise KeyboardInterrupt


def reset() -> None:
    """Forget a past request (tests and long-lived processes that run several studies)."""
    _requested.clear()
    _delivered.clear()


def install(hard_after: float = 30.0) -> Optional[Any]:
    """Route SIGINT and SIGTERM to request_stop; returns the previous SIGINT handler.

    Only possible from the main thread; elsewhere it does nothing and returns None.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    reset()

    def on_signal(signum: int, frame: Any) -> None:
        if _requested.is_set():  # a second signal (or the escalation): stop right here
            if not _delivered.is_set():
                _delivered.set()
                raise KeyboardInterrupt
            return
        request_stop("interrupted" if signum == signal.SIGINT else "terminated")
        timer = threading.Timer(hard_after, _escalate)
        timer.daemon = True
        timer.start()

    previous = signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return previous


def _escalate() -> None:
    if not _delivered.is_set():
        logger.warning("no safe point within the grace period: interrupting now")
        os.kill(os.getpid(), signal.SIGINT)
