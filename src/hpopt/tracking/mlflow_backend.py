"""MLflow: one experiment per study (named as the study), one MLflow run per trial.

Through MlflowClient (no process-wide active run, so several trials in flight on the GPU proxy are
logged side by side): the trial's params, per-epoch metrics (``epoch_<metric>``, step = epoch), its
health metrics, its final ``val_accuracy`` (the best epoch's, as in summary.json) and objective
``value``; at the run's end the best model as an artifact of the best trial's MLflow run.

The default tracking URI is ``sqlite:///<results_dir>/mlflow.db``: MLflow 3 refuses a plain
``mlruns/`` file store unless MLFLOW_ALLOW_FILE_STORE is set (its file backend is in maintenance).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from hpopt.layout import RunLayout
from hpopt.masking import mask_text
from hpopt.tracking.base import EPOCH_METRICS, numeric_health

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)
TRIAL_TAG = "hpopt.trial_number"
RUN_TAG = "hpopt.run_name"
QUIET_LOGGERS = ("mlflow.store.db.utils", "alembic")
MAX_PARAM_CHARS = 500  # MLflow's limit on a param value (6000 on newer servers; keep to the older)


def default_tracking_uri(results_dir: str) -> str:
    return f"sqlite:///{(Path(results_dir).expanduser().resolve() / 'mlflow.db').as_posix()}"


def tracking_uri(config: "OptimizationConfig") -> str:
    return config.mlflow_tracking_uri or default_tracking_uri(config.results_dir)


class MlflowTracker:
    name = "mlflow"

    def __init__(self, config: "OptimizationConfig", study_name: str, run_name: str) -> None:
        from mlflow import MlflowClient

        for name in QUIET_LOGGERS:  # "Creating initial MLflow database tables..." is not the user's business
            logging.getLogger(name).setLevel(logging.WARNING)
        uri = tracking_uri(config)
        self.client = MlflowClient(tracking_uri=uri)
        self.run_name = run_name
        # Our default store keeps artifacts beside it (MLflow's default would be ./mlruns in the cwd).
        artifacts = None if config.mlflow_tracking_uri else \
            (Path(config.results_dir).expanduser().resolve() / "mlartifacts").as_uri()
        self.experiment_id = self._experiment(study_name, artifacts)
        logger.info("tracking=mlflow: experiment %r at %s", study_name, mask_text(uri))

    def _experiment(self, name: str, artifacts: Optional[str]) -> str:
        """The study's experiment, created by whichever worker process comes first."""
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name, artifact_location=artifacts)
        except MlflowException:  # another worker created it in the meantime
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _metrics(self, row: dict[str, Any]) -> list[Any]:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"epoch_{key}", float(record[key]), now, int(record["epoch"]))
                   for record in row.get("history") or [] for key in EPOCH_METRICS if record.get(key) is not None]
        last = int(row.get("epochs_run") or 0)
        finals = {"val_accuracy": row.get("val_accuracy"), "value": row.get("value"),
                  **{f"health_{k}": v for k, v in numeric_health(row).items()}}
        metrics += [Metric(key, float(value), now, last) for key, value in finals.items()
                    if isinstance(value, (int, float)) and not isinstance(value, bool)]
        return metrics

    def log_trial(self, row: dict[str, Any]) -> None:
        from mlflow.entities import Param, RunTag

        tags = {TRIAL_TAG: str(row["number"]), RUN_TAG: self.run_name, "hpopt.state": str(row.get("state")),
                "hpopt.execution": str(row.get("execution"))}
        run = self.client.create_run(self.experiment_id, run_name=f"trial_{row['number']}", tags=tags)
        run_id = run.info.run_id
        try:
            params = [Param(key, str(value)[:MAX_PARAM_CHARS]) for key, value in (row.get("params") or {}).items()]
            metrics = self._metrics(row)
            for start in range(0, max(len(metrics), 1), 900):  # MLflow takes at most 1000 metrics per batch
                self.client.log_batch(run_id, metrics=metrics[start:start + 900],
                                      params=params if start == 0 else [],
                                      tags=[RunTag("hpopt.failure", str(row["failure"]))] if row.get("failure") and
                                      start == 0 else [])
        finally:
            status = {"complete": "FINISHED", "failed": "FAILED"}.get(str(row.get("state")), "KILLED")
            self.client.set_terminated(run_id, status=status)

    def _run_of(self, number: int) -> Optional[str]:
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{TRIAL_TAG}` = '{number}' and tags.`{RUN_TAG}` = '{self.run_name}'",
            max_results=1, order_by=["attributes.start_time DESC"])
        return found[0].info.run_id if found else None

    def log_run_end(self, summary: dict[str, Any], run_dir: Path) -> None:
        """The best model as an artifact of the best trial's MLflow run (tagged ``hpopt.best``)."""
        best = summary.get("best_trial")
        model = RunLayout(run_dir).best_model
        if not best or not model.is_file():
            return
        run_id = self._run_of(int(best["number"]))
        if run_id is None:
            return
        self.client.log_artifact(run_id, str(model))
        self.client.set_tag(run_id, "hpopt.best", "true")
