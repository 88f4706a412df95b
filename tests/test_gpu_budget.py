"""gpu_budget_usd: a trial whose estimated cost would pass the budget is not sent to the GPU proxy.

Each run first pays for one remote trial (cost c0), then resumes with a budget of 1.5 x c0: the
next trial's estimate is the mean of the paid ones (c0), and c0 + c0 > 1.5 c0, so remote sending
stops at trial 1, deterministically, and the spend never passes the budget.
"""

from __future__ import annotations

import logging

import pytest
from gpu_cost_helpers import cost_config, endpoints_file, summary_of

from hpopt.cli_progress import gpu_cost_line
from hpopt.gpu_proxy.cost import FIRST_GUESS_S_PER_EPOCH, CostLedger
from hpopt.runner import run_optimization


def _paid_then_budgeted(folder, workers, name: str, *args: str):
    endpoints = endpoints_file(folder, workers)
    first = summary_of(run_optimization(cost_config(folder / "results", endpoints, f"run_name={name}", "trials=1")))
    c0 = first["cost_usd_total"]
    assert c0 > 0 and first["trials"][0]["execution"] == "gpu_proxy"
    config = cost_config(folder / "results", endpoints, f"run_name={name}", "trials=3",
                         f"gpu_budget_usd={1.5 * c0!r}", *args)
    return c0, config


@pytest.fixture(scope="module")
def with_fallback(priced_workers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("budget_local")
    c0, config = _paid_then_budgeted(folder, priced_workers, "budget_local")
    return c0, summary_of(run_optimization(config)), config


def test_over_budget_trials_train_locally(with_fallback):
    c0, summary, config = with_fallback
    trials = summary["trials"]
    assert [t["execution"] for t in trials] == ["gpu_proxy", "local", "local"]
    assert all(t["state"] == "complete" for t in trials)
    assert [t["cost_usd"] for t in trials[1:]] == [None, None]
    budget = summary["budget"]
    assert budget == {"limit": config.gpu_budget_usd, "spent": c0, "remote_stopped_at_trial": 1,
                      "then": "trained locally"}
    assert budget["spent"] <= budget["limit"] and summary["stopped_reason"] is None
    assert any("GPU budget reached" in w["message"] and "trial 1" in w["message"] for w in summary["warnings"])
    assert "The budget stopped remote trials at trial 1" in (config_run_dir(config) / "report.md").read_text()
    line = gpu_cost_line(summary)  # the CLI's closing lines (before "results: <path>")
    assert line.startswith(f"GPU cost: {c0:.4f} USD of gpu_budget_usd=") and "later trials trained locally" in line


def config_run_dir(config):
    from pathlib import Path

    return Path(config.results_dir) / config.run_name


def test_without_fallback_the_run_ends_with_the_reason(priced_workers, tmp_path, caplog):
    c0, config = _paid_then_budgeted(tmp_path, priced_workers, "budget_end", "gpu_proxy_fallback_local=false")
    caplog.set_level(logging.WARNING)
    summary = summary_of(run_optimization(config))
    assert [t["execution"] for t in summary["trials"]] == ["gpu_proxy"]  # trial 1 was not trained, nor listed
    assert summary["budget"]["then"] == "run ended" and summary["budget"]["remote_stopped_at_trial"] == 1
    assert summary["budget"]["spent"] == c0 <= summary["budget"]["limit"]
    assert "gpu_budget_usd" in summary["stopped_reason"] and "trial 1" in summary["stopped_reason"]
    assert any("GPU budget reached" in r.getMessage() and "run ends" in r.getMessage() for r in caplog.records)
    assert gpu_cost_line(summary).endswith("budget reached at trial 1: the run ended")


def test_ledger_estimates_reserves_and_stops_for_good():
    ledger = CostLedger(budget_usd=0.05)
    first_guess = ledger.estimate(3.6, 2, {})
    assert first_guess == pytest.approx(3.6 * FIRST_GUESS_S_PER_EPOCH * 2 / 3600)  # 0.06: over the budget
    assert ledger.reserve(0, first_guess, {}) == (False, 0.0) and ledger.stopped_at_trial == 0
    ledger = CostLedger(budget_usd=0.05)
    assert ledger.reserve(0, 0.02, {}) == (True, 0.0)
    assert ledger.reserve(1, 0.02, {}) == (True, 0.02)  # two in flight: 0.04 reserved
    assert ledger.reserve(2, 0.02, {})[0] is False  # 0.06 would pass
    ledger.settle(0, 0.001)
    assert ledger.reserve(3, 0.001, {})[0] is False  # stopped for good at trial 2
    assert ledger.estimate(1.0, 1, {7: 0.004}) == pytest.approx((0.001 + 0.004) / 2)  # mean of the paid trials
    assert CostLedger().reserve(0, 1e9, {})[0] is True  # no budget
