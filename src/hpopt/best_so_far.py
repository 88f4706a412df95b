"""The run's best model so far, on disk the moment an epoch beats it.

Waiting for a trial to end before its model counts means a user who stops a run (or hits the
deadline) early gets nothing from the trial that was doing best. So after every epoch whose
objective value beats the run's best, that epoch's model becomes best_model.keras and the
point is added to best_so_far.json: the time-to-target curve of the run (seconds since
launch, trial, epoch, value, val_accuracy). Worker processes share the file under a lock.
At the end the runner still places the best *trial's* model (the same weights whenever the
objective is measured per epoch; the trial's own score decides in health mode).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from hpopt.jsonutil import write_json
from hpopt.layout import BEST_MODEL_FILE, BEST_SO_FAR_FILE
from hpopt.run_clock import RunClock
from hpopt.scoring import improves
from hpopt.spec import EpochRecord

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per run is the rule there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_LOCK_FILE = ".best_so_far.lock"


def read_best_so_far(run_dir: Path) -> dict[str, Any]:
    """best_so_far.json's content ({} when absent or unreadable)."""
    try:
        content = json.loads((run_dir / BEST_SO_FAR_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


class BestSoFar:
    """Offers each epoch's model; keeps it when it beats every epoch of the run so far."""

    def __init__(self, run_dir: Path, clock: RunClock, *, maximize: bool = True, save_models: bool = True) -> None:
        self.run_dir = run_dir
        self.clock = clock
        self.direction = "maximize" if maximize else "minimize"
        self.save_models = save_models
        self._known: Optional[float] = None  # the best this process has seen (saves a locked read)
        self._first_epoch_noted = False

    def begin(self, threshold: Optional[float], keep_earlier_model_as: Optional[Path] = None) -> None:
        """Start this launch's curve. A resumed run starts from its earlier best (``threshold``,
        the study's best value) and copies the model an earlier launch left to
        ``keep_earlier_model_as`` (its trial's model file), so the final placement still finds it
        after an epoch of this launch overwrote best_model.keras."""
        model = self.run_dir / BEST_MODEL_FILE
        if keep_earlier_model_as is not None and model.exists() and not keep_earlier_model_as.exists():
            keep_earlier_model_as.parent.mkdir(parents=True, exist_ok=True)
            keep_earlier_model_as.write_bytes(model.read_bytes())
        earlier = read_best_so_far(self.run_dir).get("best")
        if threshold is None and isinstance(earlier, dict):
            threshold = earlier.get("value")
        write_json(self.run_dir / BEST_SO_FAR_FILE, {
            "launched_at_unix": round(self.clock.launched_at, 3), "threshold": threshold, "best": None, "points": [],
            "first_epoch_started_s": None})

    def offer(self, trial: int, record: EpochRecord, save: Callable[[Path], None]) -> Optional[dict[str, Any]]:
        """Keep this epoch's model if it is the run's best so far; returns the new point, else None."""
        value = record.value
        if value is None or not math.isfinite(value) or not improves(value, self._known, self.direction):
            return None
        with self._locked():
            state = read_best_so_far(self.run_dir)
            best = state.get("best") or {}
            current = best.get("value", state.get("threshold"))
            if not improves(value, current, self.direction):
                self._known = current
                return None
            if self.save_models:
                partial = self.run_dir / f".{BEST_MODEL_FILE}.{os.getpid()}.keras"
                save(partial)
                partial.replace(self.run_dir / BEST_MODEL_FILE)
            point = {"t_s": round(self.clock.since_launch(), 3), "trial": trial, "epoch": record.epoch,
                     "value": value, "val_accuracy": record.val_accuracy}
            state.update(best=point, points=[*state.get("points", []), point])
            state.setdefault("launched_at_unix", round(self.clock.launched_at, 3))
            write_json(self.run_dir / BEST_SO_FAR_FILE, state)
            self._known = value
        logger.debug("best so far: trial %d epoch %d value %.4f at %.1f s", trial, record.epoch, value, point["t_s"])
        return point

    def training_started(self) -> None:
        """Note when the run's first epoch began (launch to first epoch: start-up cost), once."""
        if self._first_epoch_noted:
            return
        self._first_epoch_noted = True
        seconds = round(self.clock.since_launch(), 3)
        with self._locked():
            state = read_best_so_far(self.run_dir)
            if state.get("first_epoch_started_s") is None:
                state["first_epoch_started_s"] = seconds
                write_json(self.run_dir / BEST_SO_FAR_FILE, state)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / _LOCK_FILE, "a+") as handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
