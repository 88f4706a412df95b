"""gpu_tier=auto|hybrid: per trial, the cheapest endpoint whose memory_gb fits the model's estimate.

The cheap endpoint (1.0 USD/h) states a tiny memory_gb (between the two models' estimates, a few
MB), the dear one (3.0 USD/h) 80 GB: the small model goes to the cheap one, the larger one does not
fit it and goes to the dear one. hybrid trains models under HYBRID_LOCAL_MAX_PARAMS parameters locally.
"""

from __future__ import annotations

import logging

import pytest
from gpu_cost_helpers import CHEAP_USD_H, DEAR_USD_H, cost_config, endpoints_file, summary_of

from hpopt.gpu_proxy.routes import HYBRID_LOCAL_MAX_PARAMS, Route, choose_route, estimate_memory
from hpopt.runner import run_optimization
from hpopt.search_space import BASELINE_CNN
from hpopt.spec import CNNArchitecture, DataShape, TrialSpec
from hpopt.study import open_study

SMALL = dict(BASELINE_CNN, epochs=1, conv_layers=1, filters=16, hidden_units=64, batch_size=32)
LARGE = dict(BASELINE_CNN, epochs=1, conv_layers=2, filters=64, hidden_units=256, batch_size=128)


def _spec(params: dict, shape=(8, 8, 1)) -> TrialSpec:
    # as the search builds it: flatten below 3 conv layers, no shrink with one dense layer
    arch = {"hidden_shrink": 1.0, "pooling": "flatten",
            **{k: v for k, v in params.items() if k not in ("epochs", "activation")}}
    return TrialSpec(architecture=CNNArchitecture(**arch), epochs=1, seed=1,
                     data=DataShape(modality="image", input_shape=shape, num_classes=10))


def _run(folder, workers, name: str, tier: str, caplog, cheap_gb: float):
    endpoints = endpoints_file(folder, workers, cheap_memory_gb=cheap_gb, dear_memory_gb=80)
    config = cost_config(folder / "results", endpoints, f"run_name={name}", "trials=2", f"gpu_tier={tier}")
    study = open_study(config, name)
    study.enqueue_trial(LARGE)  # the large model first: the order of the file decides nothing
    study.enqueue_trial(SMALL)
    caplog.set_level(logging.INFO, logger="hpopt")
    return summary_of(run_optimization(config))


@pytest.fixture(scope="module")
def estimates(digits):
    return estimate_memory(_spec(SMALL, digits.input_shape)), estimate_memory(_spec(LARGE, digits.input_shape))


@pytest.fixture(scope="module")
def cheap_gb(estimates):
    """The cheap endpoint's memory: between the two models' estimates."""
    (_, small_gb), (_, large_gb) = estimates
    return (small_gb * large_gb) ** 0.5


def test_the_estimates_straddle_the_cheap_endpoints_memory(estimates, cheap_gb):
    (small_params, small_gb), (large_params, large_gb) = estimates
    print("estimates:", estimates, "cheap memory_gb:", cheap_gb)
    assert small_gb < cheap_gb < large_gb < 1, estimates
    assert small_params < HYBRID_LOCAL_MAX_PARAMS < large_params


def test_auto_sends_each_model_to_the_cheapest_endpoint_it_fits(priced_workers, tmp_path, caplog, cheap_gb):
    trials = _run(tmp_path, priced_workers, "auto", "auto", caplog, cheap_gb)["trials"]
    assert [(t["params"]["filters"], t["execution"], t["endpoint"]) for t in trials] == [
        (64, "gpu_proxy", "dear"), (16, "gpu_proxy", "cheap")]
    for trial, price in zip(trials, (DEAR_USD_H, CHEAP_USD_H)):
        assert trial["cost_usd"] == trial["billed_s"] * price / 3600
    logged = [r.getMessage() for r in caplog.records if "estimated memory" in r.getMessage()]
    for trial in trials:  # the estimate, logged beside the trained model's size, counted the same parameters
        count = trial["param_count"]
        assert any(f"trial {trial['number']}: " in m and f"for {count} parameters" in m
                   and f"the trained model has {count} parameters" in m for m in logged), (count, logged)
    print("params:", [t["params"] for t in trials])


def test_hybrid_trains_small_models_locally(priced_workers, tmp_path, caplog, cheap_gb):
    trials = _run(tmp_path, priced_workers, "hybrid", "hybrid", caplog, cheap_gb)["trials"]
    assert [(t["params"]["filters"], t["execution"], t["endpoint"]) for t in trials] == [
        (64, "gpu_proxy", "dear"), (16, "local", None)]


def test_fixed_and_unfitting_choices():
    client = object()  # priced routes never ask their worker
    routes = [Route("cheap", client, 1.0, 0.005), Route("dear", client, 3.0, 0.01)]  # type: ignore[arg-type]
    large = _spec(LARGE)
    assert choose_route(routes, "fixed", large, 0)[0] is routes[0]  # fixed: today's single endpoint
    assert choose_route(routes, "auto", large, 0)[0] is routes[1]  # fits none: the largest
    routes.append(Route("any", client, 2.0, None))  # type: ignore[arg-type]  # no memory_gb: fits any model
    assert choose_route(routes, "auto", large, 0)[0] is routes[2]
    routes.append(Route("roomy", client, 1.5, 80))  # type: ignore[arg-type]
    assert choose_route(routes, "auto", large, 0)[0] is routes[3]  # the cheapest that fits
    assert choose_route(routes, "auto", _spec(SMALL), 0)[0] is routes[0]  # fits the cheap one now
