"""The warnings of a run: what went wrong without stopping it, kept where its user will look.

A run that fell back from the GPU proxy to local training, drew no plots for lack of time or
ran past its deadline still ends "completed"; its user reads summary.json, report.md or the
dashboard, not the log. One logging handler on hpopt's logger, attached for the duration of
``run_optimization``, collects every WARNING (and worse) record of the run in one place, so a
new warning anywhere in hpopt reaches the user without code at its call site. Each entry is
masked (hpopt.masking) before it is kept or passed on, and the list is capped: a run that warns
in a loop keeps its first warnings and counts the rest.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from hpopt.masking import mask_text

__all__ = ["MAX_WARNINGS", "WarningCollector", "collect_warnings", "warning_entry"]

MAX_WARNINGS = 100
MAX_MESSAGE_CHARS = 2000
LOGGER = "hpopt"  # the package's loggers all sit under it (worker processes forward theirs, see worker_pool)


def warning_entry(record: logging.LogRecord) -> dict[str, Any]:
    """A log record as summary.json lists it: time (ISO 8601 UTC), level, logger, masked message."""
    moment = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the warning
        message = str(record.msg)
    entry = {"time": moment.replace("+00:00", "Z"), "level": record.levelname, "logger": record.name,
             "message": mask_text(message)[:MAX_MESSAGE_CHARS]}
    if record.processName and record.processName.startswith("hpopt-worker"):  # workers=N: which one
        entry["process"] = record.processName
    return entry


class WarningCollector(logging.Handler):
    """Keeps the first ``limit`` warnings; ``on_warning`` (a RunListener's) sees each as it comes."""

    def __init__(self, on_warning: Optional[Callable[[dict[str, Any]], None]] = None,
                 limit: int = MAX_WARNINGS) -> None:
        super().__init__(logging.WARNING)
        self.on_warning = on_warning
        self.limit = limit
        self.entries: list[dict[str, Any]] = []
        self.dropped = 0
        self._inside = threading.local()  # a listener that warns must not loop back here

    def seed(self, entries: Any, dropped: Any = 0) -> None:
        """Put an earlier session's list first (a resumed run keeps what its first part warned)."""
        if not isinstance(entries, list):
            return
        earlier = [e for e in entries if isinstance(e, dict) and isinstance(e.get("message"), str)]
        combined = earlier + self.entries
        self.dropped += len(combined) - min(len(combined), self.limit) + (dropped if isinstance(dropped, int) else 0)
        self.entries = combined[: self.limit]

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._inside, "active", False):
            return
        self._inside.active = True
        try:
            entry = warning_entry(record)
            if len(self.entries) < self.limit:
                self.entries.append(entry)
            else:
                self.dropped += 1
            if self.on_warning is not None:
                self.on_warning(entry)
        except Exception:  # noqa: BLE001 - as logging does: a handler never breaks the code that logged
            self.handleError(record)
        finally:
            self._inside.active = False

    def section(self) -> dict[str, Any]:
        """summary.json's ``warnings`` (oldest first) and ``warnings_dropped`` (beyond the cap)."""
        return {"warnings": list(self.entries), "warnings_dropped": self.dropped}


@contextmanager
def collect_warnings(on_warning: Optional[Callable[[dict[str, Any]], None]] = None,
                     limit: int = MAX_WARNINGS) -> Iterator[WarningCollector]:
    """A WarningCollector on hpopt's logger while the block runs."""
    collector = WarningCollector(on_warning, limit)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
