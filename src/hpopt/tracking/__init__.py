"""Experiment tracking: every finished trial also logged to TensorBoard and/or MLflow (``tracking=``).

Trackers read the trial as summary.json lists it (hpopt.results.trial_row: params, per-epoch history,
health), on the side that runs the study, so remote (GPU proxy) trials are logged like local ones.
A tracker that fails logs a warning: tracking never fails a run.
"""

from hpopt.tracking.base import Tracker, Tracking, make_tracking

__all__ = ["Tracker", "Tracking", "make_tracking"]
