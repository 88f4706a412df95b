"""Experiment tracking: every finished trial also logged to TensorBoard and/or MLflow (``tracking=``).

Trackers read the trial as summary.json lists it (hpopt.results.trial_row: params, per-epoch history,
health), on the side that runs the study, so remote (GPU proxy) trials are logged like local ones.
A tracker that fails logs a warning: tracking never fails a run.

Why not optuna-integration's MLflowCallback / TensorBoardCallback: they log a trial's parameters and
final value only (no per-epoch curves, health or model artifact), MLflowCallback goes through MLflow's
process-wide active run (unsafe with several GPU-proxy trials in flight in threads), and
TensorBoardCallback writes through tf.summary. MlflowClient and TensorBoard's own event writer do all of
it with the libraries' public APIs.
"""

from hpopt.tracking.base import Tracker, Tracking, make_tracking

__all__ = ["Tracker", "Tracking", "make_tracking"]
