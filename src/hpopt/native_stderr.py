"""Keeping TensorFlow's C++ log lines off the terminal of a CLI run.

TensorFlow, XLA and absl write from C++ straight to file descriptor 2 ("I0000 00:00:...",
"WARNING: All log messages before absl::InitializeLog() ...", oneDNN and CUDA-registration
notices, the harmless grappler "remapper failed" E0000 line). Python's logging never sees
them and TF_CPP_MIN_LOG_LEVEL does not silence absl, so the only reliable place to sort them
is the descriptor itself: fd 2 becomes a pipe, a thread reads it, sends these lines to the log
file and passes everything else (tracebacks, real errors, other programs' output) on to the
real stderr at once. Python's own ``sys.stderr`` (progress bar, console log lines) writes to
the real stderr directly, so the terminal stays live. A handful of lines that matter to the
user are shown re-worded as one ``warning:`` line each (once per run).

Limit: a process killed outright (abort, SIGKILL) can lose the lines still in the pipe; the
log file holds the rest, and Python tracebacks never pass through the pipe.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import threading
from typing import Optional, TextIO

__all__ = ["NativeStderrFilter", "is_native_noise", "reworded"]

logger = logging.getLogger("hpopt.native")

# Lines C++ code writes that belong in the log file, not on the terminal.
_NOISE = re.compile(
    rb"^(?:"
    rb"[IWE]\d{4} \d\d:\d\d:\S+\s+\d+ \S+:\d+\]"            # absl: I0000 00:00:1733.. 123 file.cc:45]
    rb"|[IWE]\d{4}\b"                                       # absl, short forms ("E0000 test")
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] "        # tsl: 2026-01-01 12:00:00.123: I tensorflow/...
    rb"|To enable the following instructions: .*rebuild TensorFlow"  # 2nd line of the CPU-feature notice
    rb"|oneDNN custom operations are on"
    rb")")
# Partial lines that may still become noise are held until their newline arrives.
_MAYBE_NOISE = re.compile(rb"^(?:[IWE]\d{0,4}|WARNING|\d{1,4}|\d{4}-|To enable|oneDNN)")

# (pattern, one-line message or None for "log only"): native warnings re-worded for a person.
_REWORDED: tuple[tuple[re.Pattern[bytes], Optional[str]], ...] = (
    # grappler's remapper gives up on one graph rewrite; training is unaffected
    (re.compile(rb"remapper failed"), None),
    (re.compile(rb"Unable to register cu(DNN|FFT|BLAS) factory"), None),
    (re.compile(rb"ran out of memory trying to allocate ([0-9.]+\s*\S+)"),
     "TensorFlow ran out of accelerator memory allocating {0}: smaller models or batch sizes fit better"),
    (re.compile(rb"Could not find cuda drivers|failed call to cuInit"),
     "no usable CUDA driver: TensorFlow trains on the CPU"),
)


def is_native_noise(line: bytes) -> bool:
    """Whether a line written to fd 2 is one of TensorFlow's C++/absl log lines."""
    return bool(_NOISE.match(line.lstrip(b"\r")))


def reworded(line: bytes) -> tuple[bool, Optional[str]]:
    """(known, the one-line message to show or None) for a native log line."""
    for pattern, message in _REWORDED:
        match = pattern.search(line)
        if match:
            return True, None if message is None else message.format(
                *(g.decode("utf-8", "replace") for g in match.groups()))
    return False, None


class NativeStderrFilter:
    """fd 2 through a pipe for one CLI run: install() before TensorFlow loads, close() at the end."""

    def __init__(self, log_hint: str = "logs/optimization.log") -> None:
        self._log_hint = log_hint
        self._saved_fd: Optional[int] = None
        self._real: Optional[io.RawIOBase] = None
        self._reader: Optional[threading.Thread] = None
        self._saved_stderr: Optional[TextIO] = None
        self._shown: set[str] = set()
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._saved_fd is not None

    def install(self) -> "NativeStderrFilter":
        """Redirect fd 2; Python's sys.stderr keeps writing to the real stderr."""
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # fewer lines to sort; absl still writes some
        try:
            sys.stderr.flush()
            self._saved_fd = os.dup(2)
            read_fd, write_fd = os.pipe()
        except (OSError, ValueError) as exc:  # no fd 2 (pythonw, closed): nothing to filter
            logger.debug("native stderr filter not installed: %s", exc)
            self._saved_fd = None
            return self
        self._real = io.FileIO(os.dup(self._saved_fd), "wb", closefd=True)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        if _writes_to_fd2(sys.stderr):
            self._saved_stderr = sys.stderr
            sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(self._saved_fd), "wb", closefd=True),
                                          encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                                          errors="backslashreplace", line_buffering=True, write_through=True)
        self._reader = threading.Thread(target=self._pump, args=(read_fd,), name="hpopt-native-stderr", daemon=True)
        self._reader.start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Give fd 2 back; the reader drains what is left of the pipe, then ends."""
        if self._saved_fd is None:
            return
        for stream in (sys.stderr, self._saved_stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(self._saved_fd, 2)  # the pipe's last write end (children aside) closes here
        os.close(self._saved_fd)
        self._saved_fd = None
        if self._reader is not None:
            self._reader.join(timeout)  # a child process still holding the pipe must not hang the exit
        if self._saved_stderr is not None:
            replaced, sys.stderr = sys.stderr, self._saved_stderr
            self._saved_stderr = None
            try:
                replaced.close()
            except (OSError, ValueError):
                pass

    def __enter__(self) -> "NativeStderrFilter":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pump(self, read_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while True:
                try:
                    chunk = pipe.read(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                pending += chunk
                *lines, pending = re.split(rb"(?<=\n)", pending)
                for line in lines:
                    self._line(line)
                if pending and not _MAYBE_NOISE.match(pending.lstrip(b"\r")):
                    self._write(pending)  # a prompt or progress text without newline: show it now
                    pending = b""
        if pending:
            self._line(pending)
        if self._real is not None:
            self._real.close()

    def _line(self, line: bytes) -> None:
        if not is_native_noise(line):
            self._write(line)
            return
        text = line.decode("utf-8", "replace").rstrip()
        logger.info("%s", text, extra={"hpopt_file_only": True})
        known, message = reworded(line)
        if known and message and message not in self._shown:
            self._shown.add(message)
            self._write(f"warning: {message} (details in {self._log_hint})\n".encode())

    def _write(self, data: bytes) -> None:
        with self._lock:
            try:
                if self._real is not None:
                    self._real.write(data)
            except OSError:
                pass


def _writes_to_fd2(stream: TextIO) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
