"""One optimization run, end to end: data, study, trials, results folder.

The CLI and the API's job processes call ``run_optimization``; it is the only place that
wires datasets, the study, an executor and the results writer together.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import optuna  # noqa: E402

from hpopt.best_so_far import BestSoFar, read_best_so_far  # noqa: E402
from hpopt.class_weights import resolve_class_weight  # noqa: E402
from hpopt.cost_summary import cost_section  # noqa: E402
from hpopt.events import RunListener  # noqa: E402
from hpopt.execution_stats import execution_section, training_samples_by_place  # noqa: E402
from hpopt.layout import RunLayout, study_name  # noqa: E402
from hpopt.results import (  # noqa: E402
    best_trials,
    build_summary,
    place_best_model,
    previous_best_number,
    trial_row,
    write_hyperparameters,
    write_preprocessing,
    write_summary,
)
from hpopt.run_clock import RunClock  # noqa: E402
from hpopt.run_warnings import WarningCollector, collect_warnings  # noqa: E402
from hpopt.search_space import WARM_START_ATTR, baseline_params, run_space  # noqa: E402
from hpopt.study import counted_trials, fail_dead_trials, gave_way, open_or_create_study, retried_numbers  # noqa: E402
from hpopt.target import stopped_reason  # noqa: E402
from hpopt.trial_loop import (  # noqa: E402  (re-exported: benchmarks and tests use them from here)
    best_so_far_for,
    data_shape,
    load_run_data,
    optimize_in_process,
    route_optuna_logs,
)
from hpopt.trial_objective import pruning_applies  # noqa: E402
from hpopt.trial_record import STOPPED_STATE  # noqa: E402
from hpopt.worker_pool import run_worker_pool  # noqa: E402

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)


# What the test evaluation adds to summary.json's best_trial (the confusion matrix goes to a plot).
TEST_METRICS = ("test_accuracy", "test_loss", "macro_f1", "balanced_accuracy", "per_class")

# Seconds before the timeout after which no plot starts (the report and summary still fit in them).
PLOTS_MARGIN_S = 3.0


class NoCompleteTrialsError(RuntimeError):
    """Every trial failed or was pruned: there is no model to report."""

    exit_code = 1


def run_dir_for(config: "OptimizationConfig") -> Path:
    return RunLayout.at(config.results_dir, config.resolved_run_name()).run_dir


def warn_if_pruner_idle(config: "OptimizationConfig") -> None:
    """One warning line when the configured pruner will not stop any trial, so a user who set it
    is not misled (pareto with the default pruner is documented and only logged)."""
    if config.pruner == "none" or pruning_applies(config):
        return
    if config.mode == "pareto":
        why = "Optuna cannot prune a multi-objective (pareto) study"
    else:
        why = (f"it compares each epoch's value of the objective, and {config.optimize_for} exists only "
               "when a trial ends")
    level = logging.INFO if config.mode == "pareto" and "pruner" not in config.model_fields_set else logging.WARNING
    logger.log(level, "pruner=%s will not act: %s; every trial runs its full epochs (set pruner=none to "
               "silence this)", config.pruner, why)


def _begin_best_so_far(best: Optional[BestSoFar], study: optuna.Study, run_dir: Path) -> None:
    if best is None:
        return
    complete = best_trials(study)
    earlier = previous_best_number(run_dir)
    best.begin(complete[0].value if complete else None,
               RunLayout(run_dir).trial_model(earlier) if earlier is not None else None)


def run_optimization(config: "OptimizationConfig", listener: Optional[RunListener] = None,
                     launched_at: Optional[float] = None) -> Path:
    """Run (or resume) the study the config describes and write its results folder.

    ``launched_at`` (unix time; default: now) is where ``timeout_hours`` counts from: the CLI
    and the API's job processes pass their process's launch, so start-up is inside the budget.
    Raises KeyboardInterrupt after writing the results of finished trials when the user
    presses Ctrl-C, and NoCompleteTrialsError when no trial completed. The run's warnings
    (hpopt.run_warnings) go to the listener as they happen and into summary.json.
    """
    clock = RunClock.start(config.timeout_hours, launched_at)
    listener = listener or RunListener()
    with collect_warnings(getattr(listener, "on_warning", None)) as warnings:
        return _run(config, listener, clock, warnings)


def _previous_warnings(run_dir: Path) -> tuple[Any, Any]:
    try:
        summary = json.loads(RunLayout(run_dir).summary.read_text())
        return summary.get("warnings"), summary.get("warnings_dropped", 0)
    except (OSError, ValueError, AttributeError):
        return None, 0


def _run(config: "OptimizationConfig", listener: RunListener, clock: RunClock, warnings: WarningCollector) -> Path:
    route_optuna_logs()
    warn_if_pruner_idle(config)
    run_name = config.resolved_run_name()
    run_dir = run_dir_for(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_run_data(config)
    shape = data_shape(dataset)
    space = run_space_or_exit(config, shape)
    write_search_space(run_dir, space)
    study, created = open_or_create_study(config, study_name(config.study_name, run_name))
    if not created:  # resumed: the earlier sessions' warnings stay in the list
        warnings.seed(*_previous_warnings(run_dir))
    # A trial left RUNNING by a process that was killed (kill -9, OOM, power cut) is failed now,
    # before anything counts trials: it must not count towards the cap nor read as running.
    fail_dead_trials(study)
    # Only the process that created the study warm-starts it: two runs started together on
    # one storage would otherwise both enqueue (and train) the baseline.
    if config.warm_start and created:
        study.enqueue_trial(baseline_params(shape, config.activation, config.max_epochs_per_trial, space),
                            user_attrs={WARM_START_ATTR: True})
    best = best_so_far_for(config, run_dir, clock)
    _begin_best_so_far(best, study, run_dir)
    already = counted_trials(study)
    remaining = max(0, config.trials - already)
    reached = stopped_reason(study, config.target_value)
    if reached is not None and remaining:
        logger.info("no trial to run: %s in an earlier session", reached)
        remaining = 0
    choice = resolve_class_weight(config.class_weight, dataset.y_train, dataset.num_classes)
    logger.info(choice.reason)
    listener.on_run_started({
        "run_name": run_name, "run_dir": str(run_dir), "data": dataset.summary(),
        "trials": remaining, "already_done": already, "workers": config.workers,
        "execution": "gpu_proxy" if config.use_gpu_proxy else "local",
    })
    logger.info("run %s: %d trials to run (%d already done) on %s", run_name, remaining, already, dataset.summary())
    started = time.perf_counter()
    earlier = {trial.number for trial in study.get_trials(deepcopy=False)}
    interrupted = False
    try:
        if remaining and config.workers > 1:
            _prepare_tracking(config, run_dir, study.study_name)
            run_worker_pool(config.model_copy(update={"run_name": run_name}), study, run_dir, listener, clock,
                            warnings)
        elif remaining:
            optimize_in_process(config, study, dataset, shape, run_dir, listener, clock)
    except KeyboardInterrupt:
        interrupted = True
        logger.warning("interrupted: writing the results of the finished trials")
    search_ended_at = time.time()
    summary = finalize_run(config, study, dataset, run_dir, time.perf_counter() - started, interrupted,
                           clock=clock, search_ended_at=search_ended_at, warnings=warnings,
                           resolved={"search_space": space.to_dict(), "class_weight": choice.to_dict()})
    _report_stopped_trials(listener, summary, earlier)
    _track_run_end(config, run_dir, study.study_name, summary)
    listener.on_run_finished(summary)
    if interrupted:
        raise KeyboardInterrupt
    if summary["n_complete"] == 0:
        failures = [t["failure"] for t in summary["trials"] if t.get("failure")]
        hint = f"; first failure: {failures[0]}" if failures else ""
        if not summary["n_trials"] and clock.timeout_s is not None:
            hint = (f"; timeout_hours={config.timeout_hours:g} ({clock.timeout_s:.0f} s from launch) left no time "
                    "for a trial: raise it")
        raise NoCompleteTrialsError(f"no trial completed ({summary['n_trials']} trials){hint}; see {run_dir}")
    return run_dir


def _prepare_tracking(config: "OptimizationConfig", run_dir: Path, name: str) -> None:
    """Create the tracking stores (MLflow's database schema and experiment) before worker processes
    start: several processes initializing one SQLite store at once collide."""
    if "mlflow" in config.tracking_backends:
        from hpopt.tracking import make_tracking

        make_tracking(config, run_dir, name)


def _track_run_end(config: "OptimizationConfig", run_dir: Path, name: str, summary: dict[str, Any]) -> None:
    """Tracking backends' end of run (MLflow: the best model as an artifact); never fails the run."""
    if not config.tracking_backends:
        return
    from hpopt.tracking import make_tracking

    tracking = make_tracking(config, run_dir, name)
    if tracking is not None:
        tracking.log_run_end(summary, run_dir)


def run_space_or_exit(config: "OptimizationConfig", shape: Any) -> Any:
    """The run's search space, checked against the data's modality now that it is known (an .npz
    says whether it holds images or token ids only inside): a mismatch is a ConfigError (exit 2)."""
    from hpopt.config import ConfigError
    from hpopt.space_overrides import SearchSpaceError

    try:
        return run_space(config, shape)
    except SearchSpaceError as exc:
        raise ConfigError(f"search_space: {exc}") from None


def write_search_space(run_dir: Path, space: Any) -> None:
    """search_space.yaml: every parameter as this run searches it (built-in, overridden or fixed)."""
    import yaml

    text = "# The effective search space of this run (hpopt.space_overrides): list = choices,\n" \
           "# {low, high, log, step} = range, a single value = fixed.\n"
    RunLayout(run_dir).search_space.write_text(text + yaml.safe_dump(space.to_dict(), sort_keys=False))


def _report_stopped_trials(listener: RunListener, summary: dict[str, Any], earlier: set[int]) -> None:
    """A trial cut by a stop ends in a KeyboardInterrupt, which skips Optuna's callbacks: report its
    row (state "stopped") here, so live views list it as summary.json does."""
    for row in summary["trials"]:
        if row.get("state") == STOPPED_STATE and row.get("number") not in earlier:
            listener.on_trial_finished(row)


def finalize_run(config: "OptimizationConfig", study: optuna.Study, dataset: Any, run_dir: Path,
                 wall_s: float, interrupted: bool, clock: Optional[RunClock] = None,
                 search_ended_at: Optional[float] = None,
                 warnings: Optional[WarningCollector] = None,
                 resolved: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Write summary.json, trials.csv, the best model and its test accuracy, plots and report.

    ``resolved`` carries what the run settled before its trials (the effective search space, the
    class weighting), so the summary records those very values instead of deriving them again.

    The model, test evaluation and summary come first, inside the time the deadline reserved;
    summary.json's ``wall_time`` is written again after the plots, so it shows both parts (and
    the warnings logged meanwhile: skipped plots, a missed deadline)."""
    warnings = WarningCollector() if warnings is None else warnings
    clock = clock or RunClock.start(None, time.time() - wall_s)
    search_ended_at = time.time() if search_ended_at is None else search_ended_at
    from hpopt.evaluation import evaluate_on_test
    from hpopt.plots import write_plots
    from hpopt.report import write_report

    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    rows = []
    for trial in trials:
        if gave_way(trial):
            continue  # over the cap or a repeated configuration, given way at once: not a trial of the run
        row = trial_row(trial)
        if trial.number in retried:
            why = row.get("failure") or "worker lost (no heartbeat)"
            row["failure"] = f"{why}; re-run as trial {retried[trial.number]}"
        rows.append(row)
    best = best_trials(study)
    best_number = best[0].number if best else None
    model_path = None
    if config.save_best_model:
        model_path = place_best_model(run_dir, best_number, keep={t.number for t in best})
    if best:
        write_hyperparameters(RunLayout(run_dir).best_hyperparameters, best[0], config)
    write_preprocessing(run_dir, dataset)
    evaluation = evaluate_on_test(model_path, dataset) if model_path else None
    exported = _export(config, model_path, dataset, run_dir)
    test_metrics = {k: v for k, v in (evaluation or {}).items() if k in TEST_METRICS}
    summary = build_summary(
        run_name=run_dir.name, config=config, study=study, rows=rows, wall_s=wall_s, best=best,
        test_metrics=test_metrics, dataset_summary=dataset.summary(), interrupted=interrupted,
    )
    resolved = resolved or {}
    summary["search_space"] = resolved.get("search_space")
    summary["execution"] = execution_section(
        rows, training_samples_by_place(config, len(dataset.y_train), dataset.y_train), config.min_steps_per_epoch)
    if exported is not None:
        summary["export"] = exported
    timeline = read_best_so_far(run_dir)
    summary["best_over_time"] = timeline.get("points", [])
    summary["wall_time"] = _wall_time(clock, search_ended_at, timeline)
    cost = cost_section(rows, config, study.user_attrs)
    budget_reason = cost.pop("stopped_reason", None)  # gpu_budget_usd ended the run (no local fallback)
    summary.update(cost)
    summary["stopped_reason"] = stopped_reason(study, config.target_value) or budget_reason
    summary["resolved"] = {"class_weight": resolved.get("class_weight")}
    summary.update(warnings.section())
    write_summary(run_dir, summary)
    plots_deadline = None if clock.timeout_s is None else clock.launched_at + clock.timeout_s - PLOTS_MARGIN_S
    plots = write_plots(run_dir, study, summary, config.plot_generation, evaluation, dataset, plots_deadline)
    summary["wall_time"] = dict(_wall_time(clock, search_ended_at, timeline),
                                plots_skipped_for_timeout=plots["skipped_trials"],
                                study_plots_skipped_for_timeout=plots["skipped_study"])
    if summary["wall_time"]["deadline_met"] is False:
        logger.warning("the run took %.1f s, past its timeout of %.0f s (search %.1f s, finishing %.1f s)",
                       summary["wall_time"]["total_s"], clock.timeout_s, summary["wall_time"]["search_s"],
                       summary["wall_time"]["finalize_s"])
    summary.update(warnings.section())
    write_summary(run_dir, summary)
    write_report(run_dir, summary, plots)
    return summary


def _export(config: "OptimizationConfig", model_path: Optional[Path], dataset: Any, run_dir: Path
            ) -> Optional[dict[str, Any]]:
    """export= formats of the best model (summary.json ``export``); None when none were asked for."""
    from hpopt.config.options import export_formats

    formats = export_formats(config.export)
    if not formats:
        return None
    if model_path is None:
        logger.warning("export=%s skipped: there is no best_model.keras to export", config.export)
        return {fmt: {"error": "no best model"} for fmt in formats}
    from hpopt.export import export_model

    return export_model(model_path, dataset, run_dir, formats)


def _wall_time(clock: RunClock, search_ended_at: float, timeline: dict[str, Any]) -> dict[str, Any]:
    return {**clock.wall_time(search_ended_at), "first_epoch_started_s": timeline.get("first_epoch_started_s")}
