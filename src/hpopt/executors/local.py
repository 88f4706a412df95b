"""Local execution: run_trial in this process."""

from __future__ import annotations

from typing import Optional

from hpopt.spec import TrialResult, TrialSpec
from hpopt.training import EpochReporter, TrainingData, run_trial


class LocalExecutor:
    """Trains on this machine's CPU/GPU."""

    name = "local"

    def run(self, spec: TrialSpec, data: TrainingData, reporter: Optional[EpochReporter]) -> TrialResult:
        return run_trial(spec, data, reporter)
