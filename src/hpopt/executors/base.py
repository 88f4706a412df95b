"""The executor interface shared by local and remote execution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

from hpopt.spec import TrialResult, TrialSpec

if TYPE_CHECKING:  # importing hpopt.executors must not load TensorFlow (the API server checks for it)
    from hpopt.training import EpochReporter, TrainingData


class Executor(Protocol):
    """Runs one trial; reports epochs to ``reporter`` (which may prune)."""

    name: str

    def run(self, spec: TrialSpec, data: "TrainingData", reporter: Optional["EpochReporter"]) -> TrialResult: ...
