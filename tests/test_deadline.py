"""timeout_hours is a deadline for the whole run, and the best model exists before trials end."""

from __future__ import annotations

import json
import time

import pytest

from hpopt.best_so_far import BEST_MODEL_FILE, BestSoFar, read_best_so_far
from hpopt.config import load_config
from hpopt.events import RunListener
from hpopt.run_clock import RunClock, finalize_reserve
from hpopt.runner import run_optimization
from hpopt.spec import EpochRecord

TIMEOUT_S = 24.0


def _config(tmp_path, *args: str):
    settings = {"results_dir": str(tmp_path / "results"), "warm_start": "false", "n_startup_trials": "2",
                "n_warmup_steps": "0", "trials": "500", "plot_generation": "best", "pruner": "none"}
    settings.update(arg.split("=", 1) for arg in args)
    return load_config(settings, environ={}, env_file=None)


class _Watcher(RunListener):
    """Notes, at each new best, whether best_model.keras is already on disk while its trial runs."""

    def __init__(self, run_dir) -> None:
        self.run_dir = run_dir
        self.points: list[dict] = []
        self.model_on_disk: list[bool] = []
        self.finished: set[int] = set()
        self.finished_before_point: list[bool] = []

    def on_best_so_far(self, point: dict) -> None:
        self.points.append(point)
        self.model_on_disk.append((self.run_dir / BEST_MODEL_FILE).is_file())
        self.finished_before_point.append(point["trial"] in self.finished)

    def on_trial_finished(self, row: dict) -> None:
        self.finished.add(row["number"])


@pytest.fixture(scope="module")
def deadline_run(tmp_path_factory):
    """Trials of up to 60 epochs on digits and a 24 s timeout: the deadline lands inside a trial."""
    tmp_path = tmp_path_factory.mktemp("deadline")
    config = _config(tmp_path, "run_name=deadline", f"timeout_hours={TIMEOUT_S / 3600}",
                     "min_epochs_per_trial=60", "max_epochs_per_trial=60", "early_stopping_patience=60")
    watcher = _Watcher(tmp_path / "results" / "deadline")
    launched = time.time()
    run_dir = run_optimization(config, watcher, launched_at=launched)
    return run_dir, watcher, time.time() - launched


def test_the_run_ends_within_its_timeout(deadline_run):
    run_dir, _, took = deadline_run
    summary = json.loads((run_dir / "summary.json").read_text())
    wall = summary["wall_time"]
    assert took <= TIMEOUT_S + 5, took
    assert wall["deadline_met"] is True and wall["timeout_s"] == pytest.approx(TIMEOUT_S)
    assert wall["search_s"] <= TIMEOUT_S - finalize_reserve(TIMEOUT_S) + 2
    assert wall["total_s"] == pytest.approx(wall["search_s"] + wall["finalize_s"], abs=0.01)
    assert (run_dir / "best_model.keras").is_file() and summary["best_trial"] is not None


def test_the_trial_running_at_the_deadline_stops_mid_trial_and_keeps_its_best_epoch(deadline_run):
    run_dir, _, _ = deadline_run
    summary = json.loads((run_dir / "summary.json").read_text())
    last = summary["trials"][-1]
    assert last["stop_reason"] == "deadline" and last["state"] == "complete"
    assert last["epochs_run"] < 60  # it was stopped, not finished
    assert last["value"] == pytest.approx(max(e["val_accuracy"] for e in last["history"]))
    assert all(t["stop_reason"] is None for t in summary["trials"][:-1])


def test_the_best_model_is_on_disk_as_soon_as_an_epoch_beats_it(deadline_run):
    run_dir, watcher, _ = deadline_run
    assert watcher.points and all(watcher.model_on_disk)
    assert not any(watcher.finished_before_point)  # written while its trial still ran
    values = [p["value"] for p in watcher.points]
    assert values == sorted(values) and len(set(values)) == len(values)
    times = [p["t_s"] for p in watcher.points]
    assert times == sorted(times) and 0 < times[0] < TIMEOUT_S
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_over_time"] == watcher.points
    assert summary["best_trial"]["value"] == pytest.approx(values[-1])
    assert 0 < summary["wall_time"]["first_epoch_started_s"] < times[0]
    # drawn, or (on a loaded machine) left out for the timeout and listed as such
    assert ((run_dir / "plots" / "best_over_time.png").is_file()
            or "best_over_time" in summary["wall_time"]["study_plots_skipped_for_timeout"])


def _record(epoch: int, value: float) -> EpochRecord:
    return EpochRecord(epoch=epoch, loss=1.0, accuracy=value, val_loss=1.0, val_accuracy=value, seconds=1.0,
                       value=value)


def test_best_so_far_keeps_only_improvements_across_keepers(tmp_path):
    clock = RunClock.start(None)
    saved: list[str] = []

    def save(path):
        path.write_text(f"model {len(saved)}")
        saved.append(path.name)

    first, second = (BestSoFar(tmp_path, clock) for _ in range(2))  # as two worker processes
    first.begin(None)
    assert first.offer(0, _record(1, 0.5), save)["value"] == 0.5
    assert second.offer(1, _record(1, 0.4), save) is None  # reads the shared file: 0.4 is not better
    assert second.offer(1, _record(2, 0.7), save)["trial"] == 1
    assert first.offer(0, _record(2, 0.6), save) is None
    assert [p["value"] for p in read_best_so_far(tmp_path)["points"]] == [0.5, 0.7]
    assert (tmp_path / BEST_MODEL_FILE).read_text() == "model 1" and len(saved) == 2
    assert not list(tmp_path.glob(".best_model*"))


def test_minimized_objectives_and_a_resumed_runs_earlier_model(tmp_path):
    (tmp_path / BEST_MODEL_FILE).write_text("earlier launch's model")
    keeper = BestSoFar(tmp_path, RunClock.start(None), maximize=False)
    kept = tmp_path / "trial_models" / "trial_3.keras"
    keeper.begin(0.30, keep_earlier_model_as=kept)  # the study's best so far: 0.30, trial 3
    assert kept.read_text() == "earlier launch's model"
    assert keeper.offer(7, _record(1, 0.35), lambda p: p.write_text("worse")) is None
    assert keeper.offer(7, _record(2, 0.25), lambda p: p.write_text("better"))["value"] == 0.25
    assert (tmp_path / BEST_MODEL_FILE).read_text() == "better" and kept.read_text() == "earlier launch's model"


def test_search_deadline_leaves_a_reserve_for_finishing():
    clock = RunClock(launched_at=1000.0, timeout_s=120.0)
    assert clock.search_deadline == pytest.approx(1000 + 120 - 9.6)
    assert finalize_reserve(20) == 5.0 and finalize_reserve(3600) == 288.0 and finalize_reserve(86400) == 300.0
    assert RunClock(launched_at=0.0).search_deadline is None


def test_one_rule_for_which_value_is_best():
    from hpopt.scoring import improves

    assert improves(0.9, None, "maximize") and improves(0.9, None, "minimize")
    assert improves(0.9, 0.8, "maximize") and not improves(0.8, 0.9, "maximize")
    assert improves(0.1, 0.2, "minimize") and not improves(0.2, 0.1, "minimize")
    assert not improves(0.5, 0.5, "maximize") and not improves(0.5, 0.5, "minimize")  # ties keep the earlier


def test_no_plot_starts_once_the_plots_deadline_has_passed(tmp_path):
    """The study's and the best trial's plots too: the run's timeout outranks every picture."""
    from hpopt.plots import write_plots

    summary = {"best_trial": {"number": 0}, "trials": [{"number": 0}, {"number": 1}]}
    plots = write_plots(tmp_path, None, summary, "all", None, None, deadline=time.time() - 1)
    assert plots["study"] == {} and plots["trials"] == {}
    assert plots["skipped_trials"] == [0, 1]
    assert {"optimization_history", "param_importances"} <= set(plots["skipped_study"])
    assert not list(tmp_path.rglob("*.png"))
