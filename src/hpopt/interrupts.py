"""One stop mechanism for every process: a stop request takes effect at a safe point.

A KeyboardInterrupt raised by the signal itself lands wherever the main thread happens
to be: inside TensorFlow or a finalizer it can be lost or leave a lock held, and then the
results of the finished trials are never written. So SIGINT/SIGTERM, an API stop and a
dead parent only *request* a stop; training checks after every batch, and run events
between trials, and raise KeyboardInterrupt there once (the runner's clean path: the
running trial ends, finished trials are written, exit 130). If no safe point comes within
``hard_after`` seconds, or a second signal arrives, the interrupt is raised where the code
is. A process that only supervises (a worker pool's parent) stops at once (``immediate``).

The CLI, the API's job processes, the worker processes and the GPU client (``on_stop``: its
waits in threads end) all use the one ``StopController`` of their process, ``STOP``: signals
are process-wide, so this is the one piece of process state hpopt keeps besides its loggers.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)


class StopController:
    """Why and whether this process was asked to stop, and where the stop takes effect."""

    def __init__(self, hard_after: float = 30.0) -> None:
        self.hard_after = hard_after
        self.immediate = False  # this process only supervises: no safe point needed
        self.reason = "stop"
        self._requested = threading.Event()
        self._delivered = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._signal_reason: Optional[str] = None  # why the next SIGINT comes (watch_parent)
        # What a signal means here: Ctrl-C at a terminal; an API job names the server's SIGINT "stop".
        self.signal_reasons = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}

    # ---- asking -------------------------------------------------------------------------
    def request(self, reason: str = "stop requested") -> None:
        """Ask for a stop at the next safe point (signals, the API, a dead parent all come here)."""
        if self._requested.is_set():
            return
        self.reason = reason
        self._requested.set()
        logger.warning("%s: the running trial ends after its current batch", reason)
        for callback in list(self._callbacks):
            callback()

    def requested(self) -> bool:
        return self._requested.is_set()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Also run ``callback`` when a stop is requested (e.g. end waits in other threads)."""
        self._callbacks.append(callback)
        if self._requested.is_set():
            callback()

    def remove_on_stop(self, callback: Callable[[], None]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    # ---- taking effect ------------------------------------------------------------------
    def check(self) -> None:
        """At a safe point: raise the requested stop as KeyboardInterrupt (once)."""
        if self._requested.is_set() and not self._delivered.is_set():
            self._delivered.set()
            raise KeyboardInterrupt

    def finished(self) -> None:
        """Results are written: nothing left to interrupt (a later signal cannot cut them short)."""
        self._delivered.set()

    def reset(self) -> None:
        """Forget a past request (tests and long-lived processes that run several studies)."""
        self._requested.clear()
        self._delivered.clear()
        self.reason = "stop"

    # ---- sources ------------------------------------------------------------------------
    def install(self, hard_after: Optional[float] = None) -> Optional[Any]:
        """Route SIGINT and SIGTERM to ``request``; returns the previous SIGINT handler.

        Only possible from the main thread; elsewhere it does nothing and returns None.
        """
        if threading.current_thread() is not threading.main_thread():
            return None
        if hard_after is not None:
            self.hard_after = hard_after
        self.reset()
        previous = signal.signal(signal.SIGINT, self._on_signal)  # even if started with SIGINT ignored
        signal.signal(signal.SIGTERM, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._requested.is_set():  # a second signal (or the escalation): stop right here
            if not self._delivered.is_set():
                self._delivered.set()
                raise KeyboardInterrupt
            return
        self.request(self._signal_reason or self.signal_reasons.get(signum, "terminated"))
        if self.immediate:
            self._delivered.set()
            raise KeyboardInterrupt
        timer = threading.Timer(self.hard_after, self._escalate)
        timer.daemon = True
        timer.start()

    def _escalate(self) -> None:
        if not self._delivered.is_set():
            logger.warning("no safe point within %.0f s of the stop request: interrupting now", self.hard_after)
            os.kill(os.getpid(), signal.SIGINT)

    def watch_parent(self, parent_pid: int, interval: float = 0.5) -> None:
        """Stop (as a signal would) once the parent process is gone (the API server died)."""
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(interval)
            logger.warning("the parent process (pid %d) is gone: stopping after the running epoch", parent_pid)
            self._signal_reason = "server_gone"  # taken as a signal would be (immediate, escalation timer)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


STOP = StopController()


# The process's controller through plain functions, for the many places that only check or ask.
def request_stop(reason: str = "stop requested") -> None:
    STOP.request(reason)


def stop_requested() -> bool:
    return STOP.requested()


def check() -> None:
    STOP.check()


def reset() -> None:
    STOP.reset()


def install(hard_after: float = 30.0) -> Optional[Any]:
    return STOP.install(hard_after)
