"""Run events: how a run tells the terminal, an API job or a web page what is happening."""

from __future__ import annotations

from typing import Any

from hpopt.spec import EpochRecord


class RunListener:
    """Receives run events; every method is optional (override what you need).

    The CLI prints them, the API's job process forwards them to WebSocket subscribers.
    Listeners must be quick: they run on the training thread.
    """

    def on_run_started(self, info: dict[str, Any]) -> None:
        """info: run_name, run_dir, dataset summary, trials to run, trials already done."""

    def on_trial_started(self, number: int, params: dict[str, Any]) -> None:
        """A trial's hyperparameters were sampled and training starts."""

    def on_model_built(self, number: int, architecture: list[dict[str, Any]]) -> None:
        """Trial ``number``'s model exists: its layers (name, type, output_shape, params)."""

    def on_epoch(self, number: int, record: EpochRecord) -> None:
        """Trial ``number`` finished an epoch (metrics and live health)."""

    def on_best_so_far(self, point: dict[str, Any]) -> None:
        """An epoch beat the run's best: best_model.keras now holds it; point has t_s (seconds
        since launch), trial, epoch, value and val_accuracy."""

    def on_trial_finished(self, row: dict[str, Any]) -> None:
        """A trial ended (complete, pruned or failed); row is its summary.json entry."""

    def on_warning(self, warning: dict[str, Any]) -> None:
        """Something went wrong without stopping the run (a GPU proxy fallback, skipped plots):
        warning has time, level, logger and message (masked), as summary.json's ``warnings``.
        It may come from any thread; it must not log a warning itself."""

    def on_run_finished(self, summary: dict[str, Any]) -> None:
        """The run folder is written; summary is summary.json's content."""
