"""One rule for a trial's state and the progress counts: a trial cut by a stop is "stopped"
(stop_reason user or server), listed but not counted; summary.json, the live state and the
API's progress agree before and after a resume."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from hpopt import interrupts
from hpopt.config import load_config
from hpopt.events import RunListener
from hpopt.jobs.live_state import JobLive
from hpopt.jobs.views import _counts
from hpopt.results import trial_row
from hpopt.runner import run_optimization
from hpopt.spec import EpochRecord, TrialResult
from hpopt.study import gave_way
from hpopt.trial_record import (
    CLAIM_ATTR,
    INTERRUPTED_ATTR,
    STOP_REASON_ATTR,
    state_counts,
    stop_reason_of,
    trial_state,
)

TINY = {"dataset": "digits", "min_epochs_per_trial": "1", "max_epochs_per_trial": "1", "plot_generation": "none",
        "warm_start": "false", "pruner": "none", "sampler": "random", "save_best_model": "false"}


def _finished(study: optuna.Study, state: optuna.trial.TrialState, **attrs) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    study.tell(trial, 0.5 if state == optuna.trial.TrialState.COMPLETE else None, state=state)
    return study.trials[-1]


def test_an_interrupted_trial_is_stopped_and_other_states_keep_their_names():
    study = optuna.create_study(direction="maximize")
    TrialState = optuna.trial.TrialState
    assert trial_state(_finished(study, TrialState.COMPLETE)) == "complete"
    assert trial_state(_finished(study, TrialState.PRUNED)) == "pruned"
    assert trial_state(_finished(study, TrialState.PRUNED, **{STOP_REASON_ATTR: "no_learning"})) == "no_learning"
    assert trial_state(_finished(study, TrialState.FAIL, failure="OOM")) == "failed"
    stopped = _finished(study, TrialState.FAIL, **{INTERRUPTED_ATTR: True, CLAIM_ATTR: "t", STOP_REASON_ATTR: "user"})
    row = trial_row(stopped)
    assert (row["state"], row["stop_reason"]) == ("stopped", "user")
    assert not gave_way(stopped)
    # a stop met before the trial sampled anything: not a trial of the run
    assert gave_way(_finished(study, TrialState.FAIL, **{INTERRUPTED_ATTR: True}))


def test_stop_reasons_tell_the_user_from_the_server():
    assert stop_reason_of("stop") == stop_reason_of("interrupted") == "user"  # API stop, Ctrl-C
    assert stop_reason_of("server_gone") == stop_reason_of("terminated") == "server"


def test_counts_leave_stopped_trials_out_of_finished():
    counts = state_counts(["complete", "stopped", "pruned", "failed", "no_learning", "complete", None])
    assert counts == {"n_finished": 5, "n_complete": 2, "n_pruned": 1, "n_no_learning": 1, "n_failed": 1,
                      "n_stopped": 1}


class _StopDuringSecondTrial:
    """Trains nothing; the second trial it sees is stopped by the user mid-epoch (an API stop)."""

    name = "local"

    def __init__(self) -> None:
        self.calls = 0

    def run(self, spec, data, reporter):
        self.calls += 1
        if self.calls == 2:
            interrupts.request_stop("stop")
            interrupts.check()
        accuracy = min(0.99, spec.architecture.learning_rate * 50)
        record = EpochRecord(epoch=1, loss=1.0, accuracy=accuracy, val_loss=1.0, val_accuracy=accuracy, seconds=0.0)
        return TrialResult(history=[record], status="complete", val_accuracy=accuracy, best_epoch=1, param_count=1,
                           train_seconds=0.0)


class _Rows(RunListener):
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_trial_finished(self, row: dict) -> None:
        self.rows.append(row)


@pytest.fixture
def stop_in_second_trial(monkeypatch):
    import hpopt.trial_loop

    executor = _StopDuringSecondTrial()
    monkeypatch.setattr(hpopt.trial_loop, "make_executor", lambda config: executor)
    interrupts.reset()
    yield executor
    interrupts.reset()


def test_stop_then_resume_keeps_the_stopped_row_and_counts_match_summary(tmp_path: Path, stop_in_second_trial):
    def config(trials: str):
        return load_config({"results_dir": str(tmp_path / "results"), "run_name": "r", "trials": trials, **TINY},
                           environ={}, env_file=None)

    listener = _Rows()
    with pytest.raises(KeyboardInterrupt):
        run_optimization(config("3"), listener)
    summary_path = tmp_path / "results" / "r" / "summary.json"
    summary = json.loads(summary_path.read_text())
    assert [(r["number"], r["state"]) for r in summary["trials"]] == [(0, "complete"), (1, "stopped")]
    assert summary["trials"][1]["stop_reason"] == "user"
    assert (summary["n_complete"], summary["n_failed"], summary["n_stopped"]) == (1, 0, 1)
    # the live views heard of the stopped trial as of any other (Optuna's callbacks skip it)
    assert [(r["number"], r["state"]) for r in listener.rows] == [(0, "complete"), (1, "stopped")]
    before = _counts(summary["trials"])
    assert before["trials_finished"] == 1 and before["n_stopped"] == 1

    interrupts.reset()
    listener = _Rows()
    run_optimization(config("3"), listener)
    summary = json.loads(summary_path.read_text())
    states = [(r["number"], r["state"]) for r in summary["trials"]]
    assert states == [(0, "complete"), (1, "stopped"), (2, "complete"), (3, "complete")]
    after = _counts(summary["trials"])
    assert after == {"trials_finished": 3, "n_complete": 3, "n_pruned": 0, "n_no_learning": 0, "n_failed": 0,
                     "n_stopped": 1}
    assert {k: summary[k] for k in ("n_complete", "n_failed", "n_stopped")} == {
        "n_complete": 3, "n_failed": 0, "n_stopped": 1}
    assert [r["number"] for r in listener.rows] == [2, 3]  # the earlier attempt's stopped row is not sent again


def test_live_state_counts_like_the_summary(tmp_path: Path):
    live = JobLive(tmp_path / "events.jsonl")
    for number, state in enumerate(["complete", "stopped", "complete"]):
        live.apply({"type": "trial_finished", "row": {"number": number, "state": state}})
    assert live.counts() == state_counts(["complete", "stopped", "complete"])
    assert live.counts()["n_finished"] == 2


def test_workers_are_told_who_stopped_the_run():
    """A server shutdown reaches worker processes as SIGTERM (their cut trials read "server"),
    a user's stop as SIGINT ("user"): the same stop_reason rule as the job's own trial."""
    import signal

    from hpopt.worker_pool import signal_for_workers

    assert signal_for_workers("terminated") == signal.SIGTERM
    assert signal_for_workers("stop") == signal.SIGINT and signal_for_workers("interrupted") == signal.SIGINT
