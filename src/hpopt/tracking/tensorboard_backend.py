"""TensorBoard: per-trial event files under ``<run folder>/tensorboard/trial_<n>/``.

Written with TensorBoard's own event writer and summary protos (not tf.summary), from the trial's
per-epoch records: scalars per epoch (plain ``simple_value`` scalars, which every TensorBoard reader
lists under scalars) and an hparams summary, so ``tensorboard --logdir <run folder>/tensorboard``
shows the curves and the HParams table of the whole study.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hpopt.layout import RunLayout
from hpopt.tracking.base import EPOCH_METRICS, numeric_health

HPARAM_METRICS = ("val_accuracy", "value")  # final values, compared across trials in the HParams table


def _hparam_value(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardTracker:
    name = "tensorboard"

    def __init__(self, run_dir: Path) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401  (fail early)

        self.root = RunLayout(run_dir).tensorboard_dir
        self.root.mkdir(parents=True, exist_ok=True)

    def _write(self, folder: Path, events: list[tuple[int, Any]]) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        writer = EventFileWriter(str(folder))
        try:
            for step, summary in events:
                writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        finally:
            writer.close()

    def log_trial(self, row: dict[str, Any]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.plugins.hparams import api as hp

        events: list[tuple[int, Any]] = []
        history = row.get("history") or []
        for record in history:
            values = [Summary.Value(tag=key, simple_value=float(record[key]))
                      for key in EPOCH_METRICS if record.get(key) is not None]
            events.append((int(record["epoch"]), Summary(value=values)))
        last = int(history[-1]["epoch"]) if history else 0
        finals = {"val_accuracy": row.get("val_accuracy"), "value": row.get("value")}
        finals.update({f"health/{k}": v for k, v in numeric_health(row).items()})
        final_values = [Summary.Value(tag=f"final/{k}" if not k.startswith("health/") else k, simple_value=float(v))
                        for k, v in finals.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if final_values:
            events.append((last, Summary(value=final_values)))
        hparams = {key: _hparam_value(value) for key, value in (row.get("params") or {}).items()}
        events.append((0, hp.hparams_pb(hparams, trial_id=f"trial_{row['number']}")))
        self._write(self.root / f"trial_{row['number']}", events)

    def log_run_end(self, summary: dict[str, Any], run_dir: Path) -> None:
        """The study's HParams experiment (which metrics the table shows), once at the root."""
        from tensorboard.plugins.hparams import api as hp

        metrics = [hp.Metric("final/val_accuracy", display_name="val_accuracy"),
                   hp.Metric("final/value", display_name="objective")]
        self._write(self.root, [(0, hp.hparams_config_pb(hparams=[], metrics=metrics))])
