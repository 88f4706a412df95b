"""Executors run a TrialSpec somewhere (here, or on a remote GPU) and return a TrialResult."""

from hpopt.executors.base import Executor

__all__ = ["Executor"]
