"""What a followed job looks like in the terminal: a bar over its trials and one line per
finished trial, fed by the server's events (or its polled job and trial rows).

Display only: where the events come from is follow's business.
"""

from __future__ import annotations

import sys
from typing import Any, Optional


def _number(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(_number(v) for v in value)
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def best_text(point: Optional[dict[str, Any]]) -> str:
    """A best_so_far point (the best epoch of any trial yet) in a few words."""
    if not point:
        return ""
    return f"{_number(point.get('value'))} (trial {point.get('trial')}, epoch {point.get('epoch')})"


def trial_line(row: dict[str, Any], best: Optional[dict[str, Any]] = None) -> str:
    """One finished trial: state, value, val_accuracy, overall health (when measured), and the best so far."""
    health = row.get("health") if isinstance(row.get("health"), dict) else {}
    overall = health.get("overall_health", row.get("overall_health"))
    line = (f"trial {row.get('number'):>3} {row.get('state', '?'):<11} value={_number(row.get('value'))} "
            f"val_acc={_number(row.get('val_accuracy'))}"
            + (f" health={_number(overall)}" if overall is not None else "")
            + f" epochs={row.get('epochs_run') or 0} {(row.get('duration_s') or 0):.1f}s")
    if row.get("state") == "failed" and row.get("failure"):
        line += f" ({' '.join(str(row['failure']).split())[:120]})"
    return line + (f"  best so far {best_text(best)}" if best else "")


class Progress:
    """A tqdm bar over the job's trials (postfix: running trial, its epoch, the best so far),
    and one line per finished trial above it."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = tqdm(total=0, unit="trial", file=sys.stderr, dynamic_ncols=True)
        self.finished: set[int] = set()
        self.trial: Optional[int] = None
        self.planned_epochs: Optional[int] = None
        self.epoch: Optional[int] = None
        self.val_acc: Optional[float] = None
        self.best: Optional[dict[str, Any]] = None
        self.run_name = ""

    def write(self, line: str) -> None:
        self._tqdm.write(line, file=sys.stderr)

    def _postfix(self) -> None:
        shown: dict[str, Any] = {}
        if self.trial is not None:
            shown["trial"] = self.trial
            if self.epoch is not None:
                shown["epoch"] = f"{self.epoch}/{self.planned_epochs}" if self.planned_epochs else self.epoch
            if self.val_acc is not None:
                shown["val_acc"] = _number(self.val_acc)
        if self.best:
            shown["best"] = best_text(self.best)
        self.bar.set_postfix(shown)

    def job(self, job: dict[str, Any]) -> None:
        progress = job.get("progress") or {}
        self.bar.total = progress.get("trials_total") or job.get("trials") or 0
        self.bar.n = progress.get("trials_finished") or 0
        if progress.get("best_so_far"):
            self.best = progress["best_so_far"]
        if job.get("status") not in (None, "running"):
            self.trial = None
        self.run_name = job.get("run_name") or self.run_name
        self.bar.set_description(f"{self.run_name} [{job.get('status')}]")
        self._postfix()

    def trial_finished(self, row: dict[str, Any]) -> bool:
        """Print a finished trial once; True when it was new."""
        number = row.get("number")
        if not isinstance(number, int) or number in self.finished:
            return False
        self.finished.add(number)
        if number == self.trial:
            self.trial = None
        self.write(trial_line(row, self.best))
        return True

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "state":
            self.job(event.get("job") or {})
            current = event.get("current_trial") or {}
            if current:
                epochs = current.get("epochs") or []
                self.trial, self.planned_epochs = current.get("number"), current.get("planned_epochs")
                self.epoch = (epochs[-1].get("epoch") if epochs else None)
                self.val_acc = (epochs[-1].get("val_accuracy") if epochs else None)
            for row in sorted(event.get("trials") or [], key=lambda r: r.get("number", 0)):
                self.trial_finished(row)
            self._postfix()
        elif kind == "trial_started":
            params = event.get("params") or {}
            self.trial, self.epoch, self.val_acc = event.get("trial"), None, None
            self.planned_epochs = params.get("epochs") if isinstance(params.get("epochs"), int) else None
            self._postfix()
        elif kind == "epoch":
            record = event.get("record") or {}
            self.trial, self.epoch, self.val_acc = event.get("trial"), record.get("epoch"), record.get("val_accuracy")
            self._postfix()
        elif kind == "best_so_far" and isinstance(event.get("point"), dict):
            self.best = event["point"]
            self._postfix()
        elif kind == "trial_finished":
            if self.trial_finished(event.get("row") or {}):
                self.bar.update(1)
            self._postfix()
        elif kind == "warning":
            self._tqdm.write(f"warning: {event.get('message')}", file=sys.stderr)
        elif kind in ("job_status", "job_finished"):
            self.bar.set_description(f"{self.run_name} [{event.get('status')}]")

    def close(self) -> None:
        self.bar.close()
