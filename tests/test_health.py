"""Tests for hpopt.health: each metric measures what it claims, on synthetic statistics."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hpopt import health
from hpopt.health import (
    DEFAULT_WEIGHTS,
    HEALTH_METRICS,
    accuracy_consistency,
    compute_health,
    convergence_quality,
    dead_unit_mask,
    generalization_gap,
    gradient_health,
    neuron_utilization,
    overall_health,
    overfitting_epoch,
    parameter_efficiency,
    training_stability,
)

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- builders
def layer(name, kind="dense", act="relu", std=None, mean=None, grad=0.1, finite=True):
    out = {"name": name, "kind": kind, "activation_fn": act,
           "weights": {"kernel_mean": 0.0, "kernel_std": 0.05, "bias_mean": 0.0, "bias_std": 0.01}}
    if std is not None:
        std = list(map(float, std))
        mean = [0.5] * len(std) if mean is None else list(map(float, mean))
        with np.errstate(invalid="ignore"):  # summaries of nan/inf fuzz inputs may be nan
            summary = (float(np.mean(mean)), float(np.mean(std))) if std else (0.0, 0.0)
        out["activations"] = {"unit_std": std, "unit_mean": mean, "mean": summary[0], "std": summary[1]}
    if grad is not None:
        out["gradients"] = {"norm": grad, "kernel_norm": grad, "bias_norm": grad / 10, "finite": finite}
    return out


def healthy_std(n):
    return RNG.uniform(0.2, 2.0, n)


def snapshot(epoch=1, grads=(0.5, 0.1, 0.02), dead_dense=False, finite=True):
    return {"epoch": epoch, "layers": [
        layer("conv2d_1", "conv", "relu", healthy_std(16), grad=grads[0], finite=finite),
        layer("dense_1", "dense", "relu", np.zeros(32) if dead_dense else healthy_std(32),
              mean=np.zeros(32) if dead_dense else None, grad=grads[1], finite=finite),
        layer("output", "output", "softmax", np.zeros(10), grad=grads[2], finite=finite),
    ]}


def hist(loss, acc=None, val_acc=None, val_loss=None):
    n = len(loss)
    acc = np.linspace(0.5, 0.9, n) if acc is None else acc
    val_acc = np.linspace(0.5, 0.88, n) if val_acc is None else val_acc
    val_loss = loss if val_loss is None else val_loss
    return [{"epoch": i + 1, "loss": float(loss[i]), "accuracy": float(acc[i]),
             "val_loss": float(val_loss[i]), "val_accuracy": float(val_acc[i])} for i in range(n)]


SMOOTH = list(2.3 * np.exp(-np.arange(12) / 2.5) + 0.2)


def good_run():
    return hist(SMOOTH), [snapshot(e) for e in (1, 4, 8, 12)]


# ----------------------------------------------------------------------------- dead units
def test_dead_mask_healthy_layer_all_alive():
    assert not dead_unit_mask(healthy_std(64)).any()


@pytest.mark.parametrize("mean", [0.0, 1.0, -1.0, 0.5])
def test_dead_mask_constant_layer_all_dead(mean):
    # every unit constant: the relative threshold has no reference, the floor decides
    assert dead_unit_mask(np.zeros(20), np.full(20, mean)).all()
    assert dead_unit_mask(np.full(20, 1e-9), np.full(20, mean)).all()


def test_dead_mask_saturated_sigmoid_units():
    std = np.concatenate([np.full(5, 1e-9), healthy_std(5)])
    mean = np.concatenate([np.full(5, 1.0), np.full(5, 0.5)])
    assert dead_unit_mask(std, mean).tolist() == [True] * 5 + [False] * 5


def test_dead_mask_relative_to_layer_scale():
    std = np.array([1.0, 1.2, 0.8, 1e-4, 0.05])
    assert dead_unit_mask(std).tolist() == [False, False, False, True, False]


def test_dead_mask_floor_scales_with_mean():
    std = np.full(8, 2e-6)  # uniformly tiny but real variation
    assert not dead_unit_mask(std, np.zeros(8)).any()
    assert dead_unit_mask(std, np.full(8, 10.0)).all()  # below float32 resolution of 10


def test_dead_mask_mostly_dead_layer_judged_by_living_units():
    std = np.concatenate([np.zeros(90), healthy_std(10)])
    assert dead_unit_mask(std).sum() == 90


def test_dead_mask_non_finite_is_dead_and_shape_checked():
    assert dead_unit_mask([np.nan, np.inf, 1.0, 1.0]).tolist() == [True, True, False, False]
    assert dead_unit_mask([1.0, 1.0], [np.nan, 0.0]).tolist() == [True, False]
    with pytest.raises(ValueError):
        dead_unit_mask([1.0, 1.0], [0.0])


# ----------------------------------------------------------------------------- utilization
def test_utilization_healthy_is_one():
    overall, per = neuron_utilization(snapshot())
    assert overall == 1.0
    assert per == {"conv2d_1": 1.0, "dense_1": 1.0}  # softmax output excluded


def test_utilization_forced_dead_layer_is_exactly_zero_and_unit_weighted():
    overall, per = neuron_utilization(snapshot(dead_dense=True))
    assert per["dense_1"] == 0.0 and per["conv2d_1"] == 1.0
    assert overall == pytest.approx(16 / 48)


def test_utilization_half_dead_layer():
    snap = {"epoch": 1, "layers": [layer("d", std=np.concatenate([np.zeros(10), healthy_std(10)]))]}
    overall, per = neuron_utilization(snap)
    assert overall == 0.5 and per["d"] == 0.5


def test_utilization_saturated_tanh_lstm_layer_dead():
    snap = {"epoch": 1, "layers": [
        layer("lstm", "lstm", "tanh", np.full(8, 1e-9), mean=np.full(8, -1.0)),
        layer("emb", "embedding", "linear", healthy_std(8), mean=np.zeros(8), grad=None)]}
    overall, per = neuron_utilization(snap)
    assert per == {"lstm": 0.0, "emb": 1.0} and overall == 0.5


def test_utilization_no_measurable_layers():
    assert neuron_utilization({"epoch": 1, "layers": [layer("pool", std=None)]}) == (0.0, {})


# ----------------------------------------------------------------------------- gradients
def test_gradient_health_normal_high():
    assert gradient_health([snapshot(grads=(1.0, 0.1, 0.01))]) > 0.9
    assert gradient_health([snapshot(grads=(0.3, 0.3, 0.3))]) > 0.99


@pytest.mark.parametrize("g", [1e-10, 0.0, 1e6])
def test_gradient_health_vanishing_or_exploding_low(g):
    assert gradient_health([snapshot(grads=(g, g, g))]) < 0.01


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_gradient_health_non_finite_zero(bad):
    assert gradient_health([snapshot(grads=(0.1, bad, 0.1))]) == 0.0
    # a single non-finite snapshot poisons the whole run
    assert gradient_health([snapshot(grads=(0.1, bad, 0.1)), snapshot(2)]) == 0.0


def test_gradient_health_finite_flag_false_zero():
    assert gradient_health([snapshot(finite=False)]) == 0.0


def test_gradient_health_penalizes_spread_across_depth():
    scores = [gradient_health([snapshot(grads=(1.0, 10 ** -(d / 2), 10 ** -d))]) for d in (1, 3, 4, 6)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.98 and scores[2] == pytest.approx(0.5, abs=0.02) and scores[3] < 0.2
    # one vanishing layer among healthy ones is caught by the spread
    assert gradient_health([snapshot(grads=(0.5, 0.1, 1e-10))]) < 0.05


def test_gradient_health_is_smooth_in_norm():
    gs = 10.0 ** np.linspace(-12, 7, 200)
    vals = np.array([gradient_health([snapshot(grads=(g, g, g))]) for g in gs])
    assert np.max(np.abs(np.diff(vals))) < 0.1
    assert vals[np.argmin(np.abs(gs - 1e-7))] == pytest.approx(0.5, abs=0.05)


def test_gradient_health_weighs_last_snapshot():
    bad, good = snapshot(grads=(1e-10,) * 3), snapshot(grads=(0.1,) * 3)
    assert gradient_health([good, bad]) < gradient_health([bad, good])
    assert gradient_health([]) == 0.0
    assert gradient_health([{"epoch": 1, "layers": [layer("x", std=healthy_std(3), grad=None)]}]) == 0.0


# ----------------------------------------------------------------------------- loss curve
def test_stability_smooth_decrease_high():
    assert training_stability(hist(SMOOTH)) == 1.0


def test_stability_diverging_low():
    assert training_stability(hist([1, 2, 5, 50, math.nan])) == 0.0
    assert training_stability(hist([1, 2, 5, 50])) < 0.01
    assert training_stability(hist([1.0, 0.5, 0.3, 0.6, 1.5])) < 0.1


def test_stability_oscillating_in_between():
    osc = training_stability(hist([1, 0.5, 0.9, 0.45, 0.85, 0.4]))
    noisy = training_stability(hist([2.0, 1.5, 1.6, 1.2, 1.25, 1.0]))
    assert 0.3 < osc < noisy < 1.0
    assert training_stability(hist([1, 0.5] * 3)) == pytest.approx(0.6)


def test_stability_single_epoch_and_inf():
    assert training_stability(hist([0.7])) == 1.0
    assert training_stability(hist([math.nan])) == 0.0
    assert training_stability(hist([1.0, math.inf, 0.5])) == 0.0
    assert training_stability([]) == 0.0


def test_convergence_quality():
    assert convergence_quality(hist(SMOOTH)) > 0.9
    assert convergence_quality(hist([1.0] * 6)) == 0.0
    assert convergence_quality(hist([1.0, 1.1, 1.2])) == 0.0
    still_dropping = convergence_quality(hist(np.linspace(2.0, 0.2, 10) ** 2))
    assert 0.5 <= still_dropping < convergence_quality(hist(SMOOTH))
    small = convergence_quality(hist([1.0, 0.95, 0.9, 0.9, 0.9]))
    assert 0.1 < small < 0.3
    assert convergence_quality(hist([1.0, math.nan, 0.5])) == 0.0
    assert convergence_quality(hist([1.0])) == 0.0


def test_accuracy_consistency():
    steady_climb = hist(SMOOTH, val_acc=np.linspace(0.5, 0.9, 12))
    jitter = hist(SMOOTH, val_acc=0.85 + 0.01 * (-1) ** np.arange(12))
    swings = hist(SMOOTH, val_acc=0.7 + 0.2 * (-1) ** np.arange(12))
    c = [accuracy_consistency(h) for h in (steady_climb, jitter, swings)]
    assert c[0] == pytest.approx(1.0) and 0.6 < c[1] < 0.8 and c[2] < 0.001
    # only the later epochs count: early chaos is forgiven
    early = hist(SMOOTH, val_acc=np.r_[0.1, 0.9, 0.1, 0.9, np.full(8, 0.85)])
    assert accuracy_consistency(early) == pytest.approx(1.0)
    # fewer than 3 epochs: one change has no spread, so steadiness is unmeasured (0, not 1)
    assert accuracy_consistency(hist([1.0, 0.5], val_acc=[0.1, 0.9])) == 0.0
    assert accuracy_consistency(hist([1.0], val_acc=[0.9])) == 0.0
    assert accuracy_consistency(hist([1.0, 0.6, 0.5], val_acc=[0.5, 0.7, 0.9])) == pytest.approx(1.0)
    assert accuracy_consistency(hist(SMOOTH, val_acc=np.r_[np.full(11, 0.8), np.nan])) == 0.0


def test_accuracy_consistency_falls_back_to_train_accuracy():
    h = [{"epoch": i + 1, "loss": 1.0, "accuracy": 0.5 + 0.2 * (-1) ** i} for i in range(6)]
    assert accuracy_consistency(h) < 0.01


def test_generalization_gap():
    score, gap = generalization_gap(hist(SMOOTH, acc=np.full(12, 1.0), val_acc=np.full(12, 0.6)))
    assert score == 0.0 and gap == pytest.approx(0.4)
    score, gap = generalization_gap(hist(SMOOTH, acc=np.full(12, 0.92), val_acc=np.full(12, 0.9)))
    assert score == pytest.approx(1 - 0.02 / 0.3) and gap == pytest.approx(0.02)
    assert generalization_gap(hist(SMOOTH, acc=np.full(12, 0.8), val_acc=np.full(12, 0.85)))[0] == 1.0
    score, gap = generalization_gap(hist(SMOOTH, acc=np.full(12, np.nan)))
    assert score == 0.0 and math.isnan(gap)


def test_overfitting_epoch():
    assert overfitting_epoch(hist(SMOOTH, val_loss=[1, 0.8, 0.7, 0.75, 0.9, 1.1] * 2)[:6]) == 3
    assert overfitting_epoch(hist(SMOOTH)) is None
    assert overfitting_epoch(hist([1] * 4, val_loss=[1, 0.8, 0.7, 0.701])) is None  # within tolerance
    assert overfitting_epoch(hist([1] * 4, val_loss=[1, 0.8, 0.7, math.nan])) == 3
    assert overfitting_epoch(hist([1] * 2, val_loss=[math.nan, math.nan])) is None
    shifted = [dict(h, epoch=h["epoch"] + 10) for h in hist([1] * 3, val_loss=[0.5, 0.6, 0.9])]
    assert overfitting_epoch(shifted) == 11


# ----------------------------------------------------------------------------- efficiency
def test_parameter_efficiency_separates_model_sizes():
    vals = [parameter_efficiency(0.9, p) for p in (1e4, 1e5, 1e6, 1e7)]
    assert all(a - b > 0.05 for a, b in zip(vals, vals[1:]))
    assert all(0.0 < v <= 0.9 for v in vals)


def test_parameter_efficiency_monotone_and_bounded():
    ps = 10.0 ** np.linspace(2, 9, 50)
    v = np.array([parameter_efficiency(0.8, p) for p in ps])
    assert np.all(np.diff(v) < 0)
    accs = np.linspace(0, 1, 21)
    v = np.array([parameter_efficiency(a, 1e6) for a in accs])
    assert np.all(np.diff(v) > 0)
    assert parameter_efficiency(1.0, 0) == 1.0
    assert parameter_efficiency(1.5, 1e3) <= 1.0
    assert parameter_efficiency(math.nan, 1e5) == 0.0 == parameter_efficiency(0.9, math.inf)


# ----------------------------------------------------------------------------- overall
LEARNED = {"learning": 1.0}


def test_overall_health_bounds_and_weighting():
    assert overall_health({**LEARNED, **{k: 1.0 for k in DEFAULT_WEIGHTS}}) == 1.0
    assert overall_health({**LEARNED, **{k: 0.0 for k in DEFAULT_WEIGHTS}}) == 0.0
    m = {**LEARNED, **{k: 0.5 for k in DEFAULT_WEIGHTS}}
    m["neuron_utilization"] = 1.0
    assert overall_health(m) == pytest.approx(0.5 + 0.25 * 0.5)


def test_overall_health_counts_missing_as_zero_and_sanitizes():
    # every trial is scored on the same set: a missing metric is a 0, not a smaller denominator
    assert overall_health({}) == 0.0
    assert overall_health({**LEARNED, "neuron_utilization": 1.0, "gradient_health": 0.0}) == pytest.approx(0.25)
    assert overall_health({**LEARNED, "neuron_utilization": 1.0, "training_stability": 0.0}) == pytest.approx(0.25)
    assert overall_health({**LEARNED, "parameter_efficiency": 1.0}) == 0.0  # not weighted by default
    assert overall_health({**LEARNED, "gradient_health": None, "generalization": 0.8}) == pytest.approx(0.08)
    assert overall_health({**LEARNED, "gradient_health": math.nan, "generalization": 1.0}) == pytest.approx(0.1)
    assert overall_health({**LEARNED, **{k: 7.0 for k in DEFAULT_WEIGHTS}}) == 1.0


def test_overall_health_is_gated_by_learning():
    perfect = {k: 1.0 for k in DEFAULT_WEIGHTS}
    assert overall_health(perfect) == 0.0  # learning missing: nothing shows the model learned
    for gate in (0.0, 0.3, 0.5, 1.0):
        assert overall_health({**perfect, "learning": gate}) == pytest.approx(gate)
    assert overall_health({**perfect, "learning": math.nan}) == 0.0


def test_overall_health_custom_weights():
    m = {**LEARNED, "parameter_efficiency": 0.2, "gradient_health": 1.0}
    assert overall_health(m, {"parameter_efficiency": 1, "gradient_health": 3}) == pytest.approx(0.8)
    assert overall_health({**m, "learning": 0.5}, {"parameter_efficiency": 1, "gradient_health": 3}) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        overall_health(m, {"gradient_health": -1})


# ----------------------------------------------------------------------------- learning
def _curve(losses, val_acc, val_losses=None):
    """History whose last epoch is the best: train ``losses``, constant-ish ``val_acc``."""
    n = len(losses)
    return hist(losses, acc=np.full(n, 0.5), val_acc=np.linspace(val_acc - 0.01 * (n - 1), val_acc, n),
                val_loss=losses if val_losses is None else val_losses)


@pytest.mark.parametrize("k", [10, 43, 100])
def test_learning_at_chance_accuracy_is_at_most_half(k):
    # accuracy within 1.5x of a uniform guess, loss well below chance: still not learning
    h = _curve([0.5, 0.4, 0.3], 1.5 / k)
    a = (1.5 / k - 1 / k) / (1 - 1 / k)
    assert health.learning(1.5 / k, h, k) == pytest.approx(a / 0.2) and health.learning(1.5 / k, h, k) <= 0.5
    assert health.learning(1 / k, h, k) == 0.0
    assert health.learning(0.5 / k, h, k) == 0.0  # below chance clips to 0


@pytest.mark.parametrize("k", [2, 10, 100])
def test_learning_with_loss_not_below_chance_is_at_most_half(k):
    chance = math.log(k)
    h = _curve([1.2 * chance, 0.95 * chance, 0.9 * chance], 0.95, val_losses=[1.3 * chance] * 3)
    assert health.learning(0.95, h, k) == pytest.approx(0.1 / 0.2)  # R = 0.1
    above = _curve([1.2 * chance] * 3, 0.95)
    assert health.learning(0.95, above, k) == 0.0


def test_learning_of_a_model_that_learned_is_one_and_uses_the_kept_epoch():
    h = hist([2.0, 1.0, 0.4, 2.5], val_acc=[0.5, 0.8, 0.9, 0.7], val_loss=[2.0, 1.0, 0.5, 3.0])
    assert health.learning(0.9, h, 10) == 1.0  # kept epoch 3 (best val_accuracy): loss 0.4
    # the kept epoch decides the loss: epoch 4 (both losses above ln 10) is not learning
    assert health.learning(0.9, h, 10, best_epoch=4) == 0.0
    # the lower of the two losses: a dropout-inflated training loss does not hide learning
    assert health.learning(0.9, hist([2.2], val_acc=[0.9], val_loss=[1.0]), 10) == 1.0


def test_compute_health_flat_run_at_chance_is_not_healthy():
    # a model that does not move: flat loss at chance is "stable", no train/val gap is
    # "general", its units and gradients look fine; only the learning gate tells the truth
    chance = math.log(10)
    flat = hist([chance * (1 + 0.001 * (-1) ** i) for i in range(6)], acc=np.full(6, 0.1), val_acc=np.full(6, 0.11))
    r = compute_health(flat, good_run()[1], param_count=1e5, accuracy=0.11, num_classes=10)
    _assert_clean(r)
    ungated = sum(w * r[k] for k, w in DEFAULT_WEIGHTS.items()) / sum(DEFAULT_WEIGHTS.values())
    assert ungated > 0.75 and r["training_stability"] > 0.5 and r["generalization"] == 1.0
    assert r["learning"] == 0.0 and r["overall_health"] <= 0.5


def test_learning_unmeasurable_is_zero_with_a_reason():
    h, snaps = good_run()
    for kwargs, reason in (({"num_classes": None}, "class count"), ({"accuracy": math.nan}, "validation accuracy")):
        r = compute_health(h, snaps, param_count=1e5, **{"accuracy": 0.88, "num_classes": 10, **kwargs})
        assert r["learning"] == 0.0 == r["overall_health"]
        assert reason in r["unmeasured"]["learning"]


# ----------------------------------------------------------------------------- compute_health
def _assert_clean(result):
    text = json.dumps(result, allow_nan=False)  # raises on nan/inf
    assert json.loads(text) == result
    for key in HEALTH_METRICS:  # every metric, always: unmeasured ones are 0 with a reason
        assert type(result[key]) is float and 0.0 <= result[key] <= 1.0, key
    assert all(type(v) is str and v and result[k] == 0.0 for k, v in result["unmeasured"].items())
    for v in result["per_layer"]["dead_fraction"].values():
        assert type(v) is float and 0.0 <= v <= 1.0
    gap = result.get("generalization_gap")
    assert gap is None or type(gap) is float
    ep = result.get("overfitting_epoch")
    assert ep is None or type(ep) is int


def test_compute_health_healthy_run():
    history, snaps = good_run()
    r = compute_health(history, snaps, param_count=120_000, accuracy=0.88, num_classes=10)
    _assert_clean(r)
    assert set(HEALTH_METRICS) <= set(r) and r["unmeasured"] == {} and r["learning"] == 1.0
    assert {"generalization_gap", "overfitting_epoch", "per_layer"} <= set(r)
    assert r["overall_health"] > 0.9 and r["neuron_utilization"] == 1.0
    assert r["per_layer"]["dead_fraction"] == {"conv2d_1": 0.0, "dense_1": 0.0}
    assert r["per_layer"]["gradient_norms"]["output"] == [0.02] * 4
    assert r["per_layer"]["snapshot_epochs"] == [1, 4, 8, 12]
    assert r["overall_health"] == pytest.approx(overall_health(r))


def test_compute_health_sick_run_scores_lower():
    history, _ = good_run()
    healthy = compute_health(*good_run(), param_count=1e5, accuracy=0.88, num_classes=10)
    snaps = [snapshot(e, grads=(1e-9, 1e-4, 1.0), dead_dense=True) for e in (1, 2, 3)]
    sick = compute_health(hist([2.0, 1.0, 1.5, 0.9, 2.5], acc=[0.5, 0.7, 0.8, 0.95, 1.0],
                               val_acc=[0.5, 0.6, 0.4, 0.6, 0.55]), snaps, param_count=1e5, accuracy=0.55,
                          num_classes=10)
    _assert_clean(sick)
    assert sick["per_layer"]["dead_fraction"]["dense_1"] == 1.0
    for key in DEFAULT_WEIGHTS:
        assert sick[key] < healthy[key], key
    assert sick["overall_health"] < 0.5 < healthy["overall_health"]


def test_compute_health_nan_inputs_never_leak():
    snaps = [{"epoch": 1, "layers": [
        layer("a", std=[math.nan, 1.0], mean=[math.inf, 0.0], grad=math.nan),
        layer("b", std=[0.0, 0.0], grad=math.inf, finite=False)]}]
    history = [{"epoch": 1, "loss": math.nan, "accuracy": math.nan, "val_loss": math.inf, "val_accuracy": math.nan},
               {"epoch": 2, "loss": math.inf, "accuracy": None, "val_loss": math.nan, "val_accuracy": -math.inf}]
    r = compute_health(history, snaps, param_count=math.nan, accuracy=math.nan)
    _assert_clean(r)
    assert r["gradient_health"] == 0.0 and r["training_stability"] == 0.0
    assert r["generalization_gap"] is None and r["overfitting_epoch"] is None
    assert r["per_layer"]["gradient_norms"] == {"a": [None], "b": [None]}


def test_compute_health_without_snapshots_or_history():
    history, _ = good_run()
    r = compute_health(history, [], param_count=5e4, accuracy=0.9, num_classes=10)
    _assert_clean(r)
    # not measured, so 0 with a reason, and overall_health averages the same set as any trial
    assert r["neuron_utilization"] == 0.0 and r["gradient_health"] == 0.0
    assert set(r["unmeasured"]) == {"neuron_utilization", "gradient_health"}
    assert "snapshot" in r["unmeasured"]["gradient_health"]
    assert r["per_layer"] == {"dead_fraction": {}, "gradient_norms": {}, "snapshot_epochs": []}
    measured = compute_health(*good_run(), param_count=5e4, accuracy=0.9, num_classes=10)
    assert r["overall_health"] == pytest.approx(measured["overall_health"] - 0.5, abs=0.02)
    r = compute_health([], [], param_count=5e4, accuracy=0.9, num_classes=10)
    _assert_clean(r)
    assert set(r["unmeasured"]) == set(DEFAULT_WEIGHTS) | {"learning"} and r["overall_health"] == 0.0
    one = compute_health(hist([0.5]), [], param_count=5e4, accuracy=0.9)
    assert one["convergence_quality"] == 0.0 and one["training_stability"] == 1.0
    one_vs_chance = compute_health(hist([0.5]), [], param_count=5e4, accuracy=0.9, num_classes=10)
    assert 0.0 < one_vs_chance["convergence_quality"] <= 0.5


def _random_value(rng):
    r = rng.random()
    if r < 0.1:
        return math.nan
    if r < 0.15:
        return math.inf * rng.choice([-1, 1])
    return float(10 ** rng.uniform(-12, 8) * rng.choice([-1, 1, 1, 1]))


def test_compute_health_bounds_property():
    rng = np.random.default_rng(42)
    for _ in range(150):
        n = int(rng.integers(0, 8))
        history = [{"epoch": i + 1, **{k: _random_value(rng) if rng.random() < 0.5 else float(rng.random())
                                       for k in ("loss", "accuracy", "val_loss", "val_accuracy")}}
                   for i in range(n)]
        snaps = []
        for e in range(int(rng.integers(0, 4))):
            layers = []
            for j in range(int(rng.integers(0, 4))):
                units = int(rng.integers(0, 6))
                std = [_random_value(rng) for _ in range(units)] if rng.random() < 0.8 else None
                layers.append(layer(f"l{j}", rng.choice(["conv", "dense", "lstm", "output"]),
                                    rng.choice(["relu", "tanh", "sigmoid", "softmax", "linear"]),
                                    std=std, mean=None if std is None else [_random_value(rng) for _ in std],
                                    grad=_random_value(rng) if rng.random() < 0.8 else None,
                                    finite=bool(rng.random() < 0.9)))
            snaps.append({"epoch": e + 1, "layers": layers})
        r = compute_health(history, snaps, param_count=_random_value(rng), accuracy=_random_value(rng))
        _assert_clean(r)


def test_health_package_imports_only_allowed_modules():
    """Pure numpy: the health package never imports TensorFlow, Keras or the rest of hpopt."""
    allowed = {"numpy", "math", "typing", "dataclasses", "__future__"}
    files = sorted(Path(health.__file__).parent.glob("*.py"))
    assert len(files) > 1
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            outside = {n for n in names if not n.startswith("hpopt.health")}
            assert {n.split(".")[0] for n in outside} <= allowed, (path.name, names)


def test_health_metrics_constant():
    assert set(DEFAULT_WEIGHTS) <= set(HEALTH_METRICS)
    assert "parameter_efficiency" in HEALTH_METRICS and "overall_health" in HEALTH_METRICS
    assert "generalization_gap" not in HEALTH_METRICS


def test_compute_health_tolerates_malformed_entries():
    snaps = [{"epoch": 2.0, "layers": [
        {"name": "d", "kind": "dense", "activation_fn": "relu",
         "activations": {"unit_std": [None, 1.0, "x", 0.8], "unit_mean": [0.1, 0.2]},  # mean length mismatch
         "gradients": {"norm": None, "finite": True}},
        {"name": "pool", "kind": "dense", "activation_fn": "linear"}]}]
    history = [{"epoch": 1, "loss": 1.0, "accuracy": 0.6}, {"epoch": 2, "loss": 0.4, "accuracy": 0.8}]
    r = compute_health(history, snaps, param_count=1e4, accuracy=0.8)
    _assert_clean(r)
    assert r["per_layer"]["dead_fraction"] == {"d": 0.5}
    assert r["per_layer"]["snapshot_epochs"] == [2]
    assert r["gradient_health"] == 0.0 and "gradient norms" in r["unmeasured"]["gradient_health"]
    # no validation recorded
    assert r["generalization"] == 0.0 and "validation" in r["unmeasured"]["generalization"]
    assert r["generalization_gap"] is None
    assert r["accuracy_consistency"] == 0.0 and "3" in r["unmeasured"]["accuracy_consistency"]  # 2 epochs
