"""The tracking callback: one Optuna callback fanning a finished trial out to every configured backend."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

if TYPE_CHECKING:
    import optuna

    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)

EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class Tracker(Protocol):
    """One backend: told about each finished trial (a summary.json row) and about the run's end."""

    name: str

    def log_trial(self, row: dict[str, Any]) -> None: ...

    def log_run_end(self, summary: dict[str, Any], run_dir: Path) -> None: ...


def numeric_health(row: dict[str, Any]) -> dict[str, float]:
    """The trial's health metrics that are plain numbers (per-layer detail stays in the run folder)."""
    health = row.get("health") or {}
    return {key: float(value) for key, value in health.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


class Tracking:
    """Optuna callback (``study.optimize(callbacks=[...])``) that logs each finished trial to the trackers."""

    def __init__(self, trackers: list[Tracker]) -> None:
        self.trackers = trackers

    def __call__(self, study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> None:
        from hpopt.results import trial_row
        from hpopt.study import gave_way

        if gave_way(trial):  # never trained: not a trial of the run (summary.json leaves it out too)
            return
        self.log_row(trial_row(trial))

    def log_row(self, row: dict[str, Any]) -> None:
        for tracker in self.trackers:
            try:
                tracker.log_trial(row)
            except Exception as exc:  # noqa: BLE001  a tracking backend must never fail the run
                logger.warning("tracking=%s: trial %s not logged (%s: %s)", tracker.name, row.get("number"),
                               type(exc).__name__, exc)

    def log_run_end(self, summary: dict[str, Any], run_dir: Path) -> None:
        for tracker in self.trackers:
            try:
                tracker.log_run_end(summary, run_dir)
            except Exception as exc:  # noqa: BLE001
                logger.warning("tracking=%s: the run's end not logged (%s: %s)", tracker.name,
                               type(exc).__name__, exc)


def make_tracking(config: "OptimizationConfig", run_dir: Path, study_name: str) -> Optional[Tracking]:
    """The run's tracking callback, or None for tracking=none; a backend that cannot start is a warning."""
    trackers: list[Tracker] = []
    for name in config.tracking_backends:
        try:
            if name == "tensorboard":
                from hpopt.tracking.tensorboard_backend import TensorBoardTracker

                trackers.append(TensorBoardTracker(run_dir))
            elif name == "mlflow":
                from hpopt.tracking.mlflow_backend import MlflowTracker

                trackers.append(MlflowTracker(config, study_name, run_dir.name))
        except Exception as exc:  # noqa: BLE001  (ImportError, an unreachable tracking server...)
            logger.warning("tracking=%s is off for this run: %s: %s", name, type(exc).__name__, exc)
    return Tracking(trackers) if trackers else None
