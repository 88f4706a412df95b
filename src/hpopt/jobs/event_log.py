"""The job's event log: JSON lines the job process appends and the server tails.

A file (not a pipe) so events survive a server restart: a new server replays the log to
rebuild a job's state, and the job process keeps writing while nobody listens. Each
line is written with one os.write on an O_APPEND descriptor, so a reader sees whole
lines or nothing of a line (it keeps a partial tail until its newline arrives).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

__all__ = ["EventWriter", "EventTail", "EVENTS_FILE"]

EVENTS_FILE = "events.jsonl"
logger = logging.getLogger(__name__)


class EventWriter:
    """Appends events to a job's log; used inside the job process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, event_type: str, **fields: Any) -> None:
        from hpopt.jobs.store import utc_now
        from hpopt.jsonutil import to_jsonable

        event = to_jsonable({"type": event_type, "time": utc_now(), **fields})
        line = json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8"))

    def close(self) -> None:
        os.close(self._fd)


class EventTail:
    """Reads the events appended since the last call; cheap when nothing changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""

    def read_new(self) -> Iterator[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self.offset:  # the file was replaced: start over
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                logger.warning("skipping a malformed line in %s", self.path)
                continue
            if isinstance(event, dict) and "type" in event:
                yield event
