"""Terminal progress for the CLI: a bar over trials and one line per finished trial."""

from __future__ import annotations

import sys
from typing import Any, Optional

from tqdm import tqdm

from hpopt.events import RunListener

MAIN_PARAMS = ("conv_layers", "filters", "hidden_units", "embedding_dim", "lstm_units", "bidirectional",
               "optimizer", "learning_rate", "sgd_learning_rate", "batch_size")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def trial_line(row: dict[str, Any]) -> str:
    """One line a person can scan: number, state, value, val_accuracy, epochs, seconds, main params."""
    value = row.get("value")
    if value is None:
        value_text = "–"
    else:
        value_text = "/".join(f"{v:.4f}" for v in value) if isinstance(value, list) else f"{value:.4f}"
    acc = row.get("val_accuracy")
    params = " ".join(f"{k}={_short(row['params'][k])}" for k in MAIN_PARAMS if k in row.get("params", {}))
    where = "" if row.get("execution", "local") == "local" else f" [{row['execution']}]"
    failure = f" ({row['failure']})" if row.get("failure") and row["state"] == "failed" else ""
    return (f"trial {row['number']:>3} {row['state']:<8} value={value_text} "
            f"val_acc={'–' if acc is None else f'{acc:.4f}'} "
            f"epochs={row.get('epochs_run', 0)}/{row.get('params', {}).get('epochs', '?')} "
            f"{(row.get('duration_s') or 0):.1f}s{where} {params}{failure}")


class TerminalProgress(RunListener):
    """Progress bar on stderr; trial lines above it."""

    def __init__(self) -> None:
        self.bar: Optional[tqdm] = None

    def on_run_started(self, info: dict[str, Any]) -> None:
        data = info["data"]
        tqdm.write(f"run {info['run_name']}: {data['name']} ({data['modality']}, {data['n_train']} train / "
                   f"{data['n_val']} val / {data['n_test']} test), {info['trials']} trials"
                   + (f" ({info['already_done']} done before)" if info["already_done"] else ""), file=sys.stderr)
        self.bar = tqdm(total=info["trials"], unit="trial", file=sys.stderr, dynamic_ncols=True, leave=False)

    def on_trial_finished(self, row: dict[str, Any]) -> None:
        tqdm.write(trial_line(row), file=sys.stderr)
        if self.bar is not None:
            self.bar.update(1)

    def on_run_finished(self, summary: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
        best = summary.get("best_trial")
        if best:
            test = summary.get("test_accuracy")
            value = best["value"] if not isinstance(best["value"], float) else round(best["value"], 4)
            tqdm.write(f"best: trial {best['number']} value={value} "
                       f"val_acc={best['val_accuracy']:.4f}" + (f" test_acc={test:.4f}" if test is not None else "")
                       + f" | {summary['n_complete']} complete, {summary['n_pruned']} pruned, "
                       f"{summary.get('n_no_learning', 0)} no learning, {summary['n_failed']} failed"
                       + (f", {summary['n_stopped']} stopped" if summary.get("n_stopped") else ""),
                       file=sys.stderr)
        if summary.get("stopped_reason"):
            tqdm.write(f"stopped: {summary['stopped_reason']}", file=sys.stderr)
