"""The reporter a trial's training talks to: epochs to the run's listeners, Optuna's pruner and
the run's best-model keeper. The same for local trials and for epochs replayed from the GPU worker."""

from __future__ import annotations

from typing import Any, Optional

import optuna

from hpopt.best_so_far import BestSoFar
from hpopt.events import RunListener
from hpopt.spec import EpochRecord


class OptunaReporter:
    """Forwards epochs to listeners and to Optuna's pruner (locally, or replayed from a worker)."""

    def __init__(self, trial: optuna.Trial, listener: RunListener, prune: bool, epochs: int,
                 best: Optional[BestSoFar] = None) -> None:
        self.trial = trial
        self.listener = listener
        self.prune = prune
        self.epochs = epochs
        self.best = best

    def model_built(self, architecture: list[dict[str, Any]]) -> None:
        self.listener.on_model_built(self.trial.number, architecture)

    def training_started(self) -> None:
        if self.best is not None:
            self.best.training_started()

    def epoch_model(self, record: EpochRecord, model: Any) -> None:
        """The run's best model is kept the moment an epoch beats it (best_so_far.py)."""
        if self.best is None:
            return
        point = self.best.offer(self.trial.number, record, model.save)
        if point is not None:
            self.listener.on_best_so_far(point)

    def report(self, record: EpochRecord) -> None:
        self.listener.on_epoch(self.trial.number, record)
        if self.prune:
            self.trial.report(record.objective_value, record.epoch)
            # A trial that reached its last epoch (or stops here anyway) has nothing left to save.
            if not record.final and record.epoch < self.epochs and self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {record.epoch}")
