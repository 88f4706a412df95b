"""class_weight (issue 17): resolved from the training split, carried by the TrialSpec, applied by fit
the same way locally and on the GPU worker."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import optuna
import pytest
from pydantic import ValidationError
from sklearn.utils.class_weight import compute_class_weight

from hpopt.class_weights import resolve_class_weight
from hpopt.config import ConfigError, load_config
from hpopt.gpu_proxy.payload import TrainingArrays, encode_arrays, fingerprint
from hpopt.gpu_proxy.protocol import ResultOutput, TrainRequest, parse_input
from hpopt.gpu_proxy.records import trial_result
from hpopt.gpu_proxy.worker import Worker
from hpopt.spec import TrialSpec
from hpopt.training import run_trial

SPEC = {
    "architecture": {"kind": "cnn", "conv_layers": 1, "filters": 8, "kernel_size": 3, "hidden_layers": 1,
                     "hidden_units": 16, "hidden_shrink": 1.0, "dropout": 0.0, "learning_rate": 0.01,
                     "batch_size": 32},
    "data": {"modality": "image", "input_shape": [8, 8, 1], "num_classes": 3},
    "epochs": 1, "seed": 1, "health": {"enabled": False},
}
WEIGHTS = {0: 0.4, 1: 1.3, 2: 5.0}


def _arrays(n: int = 90, seed: int = 0) -> TrainingArrays:
    rng = np.random.default_rng(seed)
    return TrainingArrays(rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8), np.arange(n, dtype=np.int64) % 3,
                          rng.integers(0, 255, (30, 8, 8, 1), dtype=np.uint8), np.arange(30, dtype=np.int64) % 3)


def test_auto_weighs_classes_only_past_three_to_one_and_uses_sklearns_weights():
    labels = np.array([0] * 100 + [1] * 10 + [2] * 10)
    choice = resolve_class_weight("auto", labels, 3)
    assert choice.mode == "balanced"
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    assert choice.weights == pytest.approx(dict(enumerate(expected)))
    assert "largest class 100" in choice.reason and "smallest 10" in choice.reason
    assert resolve_class_weight("auto", np.array([0] * 30 + [1] * 10 + [2] * 11), 3).weights is None  # 3x: not more
    assert resolve_class_weight("none", labels, 3).weights is None
    assert resolve_class_weight("balanced", np.array([0, 1, 2] * 5), 3).weights == pytest.approx({0: 1, 1: 1, 2: 1})
    assert resolve_class_weight("balanced", np.array([0, 0, 2]), 3).weights[1] == 1.0  # absent class: weight 1


def test_class_weight_key_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="class_weight"):
        load_config({"class_weight": "inverse"}, environ={}, env_file=None)
    assert load_config({}, environ={}, env_file=None).class_weight == "auto"


def test_a_spec_with_class_weight_travels_through_the_protocol_unchanged():
    spec = TrialSpec.model_validate({**SPEC, "class_weight": WEIGHTS})
    arrays = _arrays()
    request = TrainRequest(spec=spec, data={"source": "inline", "sha256": fingerprint(arrays.as_dict())})
    wire = json.loads(json.dumps(request.model_dump(mode="json")))  # JSON object keys become strings
    assert parse_input(wire).spec == spec and parse_input(wire).spec.class_weight == WEIGHTS


@pytest.mark.parametrize("bad", [{3: 1.0}, {-1: 1.0}, {0: 0.0}, {0: -2.0}, {0: float("nan")}, {0: float("inf")}])
def test_class_weights_outside_the_classes_or_not_positive_are_refused(bad):
    with pytest.raises(ValidationError, match="class_weight"):
        TrialSpec.model_validate({**SPEC, "class_weight": bad})


def test_weights_reach_fit_and_the_gpu_worker_applies_the_same(tmp_path):
    arrays = _arrays()
    plain = run_trial(TrialSpec.model_validate(SPEC), arrays, keep_model=False)
    weighted_spec = TrialSpec.model_validate({**SPEC, "class_weight": WEIGHTS,
                                              "objective": {"optimize_for": "macro_f1"}})
    weighted = run_trial(weighted_spec, arrays, keep_model=False)
    assert weighted.history[0].loss != pytest.approx(plain.history[0].loss, rel=1e-3)  # the weights are in the loss

    # the GPU worker, handed the spec over the wire, trains with exactly these weights
    wire = json.loads(json.dumps(TrainRequest(
        spec=weighted_spec,
        data={"source": "inline", "sha256": fingerprint(arrays.as_dict()), "payload": encode_arrays(arrays.as_dict())},
    ).model_dump(mode="json")))

    async def collect():
        return [r async for r in Worker(cache=None, concurrency=1).handle({"id": "t", "input": wire})]

    records = asyncio.run(collect())
    remote = trial_result(ResultOutput.model_validate(next(r for r in records if r["type"] == "result")))
    assert remote.history[0].loss == pytest.approx(weighted.history[0].loss, rel=1e-4)
    # the objective's validation metrics are computed where the trial ran and travel back
    assert remote.val_metrics == pytest.approx(weighted.val_metrics) and set(remote.val_metrics) == {
        "macro_f1", "balanced_accuracy"}


def test_a_study_is_not_resumed_with_another_class_weight():
    from hpopt.study import StudyMismatchError, check_fingerprint

    study = optuna.create_study()
    check_fingerprint(study, load_config({"class_weight": "auto"}, environ={}, env_file=None))
    with pytest.raises(StudyMismatchError, match="class_weight was 'auto', now 'balanced'"):
        check_fingerprint(study, load_config({"class_weight": "balanced"}, environ={}, env_file=None))


def test_the_objective_puts_the_resolved_weights_in_every_spec(tmp_path):
    from hpopt.trial_loop import data_shape
    from hpopt.trial_objective import TrialObjective

    arrays = _arrays()
    imbalanced = TrainingArrays(arrays.x_train, np.where(np.arange(90) < 80, 0, np.arange(90) % 2 + 1),
                                arrays.x_val, arrays.y_val)
    shape = data_shape(type("D", (), {"modality": "image", "input_shape": (8, 8, 1), "num_classes": 3,
                                      "vocab_size": None})())
    for setting, expect_weights in (("auto", True), ("none", False)):
        config = load_config({"class_weight": setting, "warm_start": "false"}, environ={}, env_file=None)
        objective = TrialObjective(config, imbalanced, shape, executor=None, run_dir=tmp_path)
        spec = objective._spec_for(optuna.create_study(direction="maximize").ask())
        assert (spec.class_weight is not None) == expect_weights
        if expect_weights:
            assert spec.class_weight[0] < 1 < spec.class_weight[1]
