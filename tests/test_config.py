"""OptimizationConfig and load_config: defaults, layering, parsing and the error messages.

Fast and TensorFlow-free. Dataset names are checked by the real hpopt.datasets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from hpopt.config import (
    ALL_MODE_OBJECTIVES,
    HEALTH_ONLY_OBJECTIVES,
    OBJECTIVES_BY_MODE,
    ConfigError,
    OptimizationConfig,
    explain_validation_error,
    load_config,
)
from hpopt.scoring import OBJECTIVES

SRC = Path(__file__).resolve().parents[1] / "src"

DEFAULTS = {
    "dataset": "digits", "mode": "simple", "optimize_for": "val_accuracy", "trials": 50,
    "run_name": None, "activation": None, "search_space": None, "tracking": "none", "mlflow_tracking_uri": None,
    "health_weight": 0.3, "max_epochs_per_trial": 20,
    "min_epochs_per_trial": 5, "n_startup_trials": 5, "n_warmup_steps": 2, "random_seed": 42,
    "timeout_hours": None, "validation_split": 0.2, "test_size": 0.2, "early_stopping_patience": 5,
    "enable_early_stopping": True, "min_steps_per_epoch": 50, "stop_no_learning": True, "save_best_model": True,
    "export": "none", "plot_generation": "all",
    "use_gpu_proxy": False, "gpu_proxy_auto_clone": True, "gpu_proxy_endpoint": None,
    "gpu_proxy_fallback_local": True, "gpu_proxy_sample_percentage": 1.0,
    "gpu_proxy_use_stratified_sampling": True, "gpu_proxy_concurrency": 1, "gpu_proxy_timeout_s": 7200.0,
    "gpu_proxy_max_payload_mb": 10.0, "gpu_proxy_repo_url": None, "gpu_proxy_ref": None, "data_dir": None,
    "gpu_proxy_usd_per_hour": None, "gpu_proxy_endpoints": None, "gpu_budget_usd": None, "gpu_tier": "fixed",
    "results_dir": "./optimization_results", "storage": None, "study_name": None, "workers": 1,
    "heartbeat_interval_s": 30,
    "assign_gpus_to_workers": True,
    "sampler": "tpe", "pruner": "median", "sequence_length": 200, "vocab_size": 10000,
    "image_size": None, "health_monitoring_frequency": 1, "health_analysis_sample_size": 256,
    "notify_url": None,
    "log_level": "DEBUG",
    "warm_start": True,
    "precision": "auto",
    "class_weight": "auto", "target_value": None,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HYPEROPT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _error(args, **kwargs) -> str:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as info:
        load_config(args, **kwargs)
    return str(info.value)


def test_every_default() -> None:
    assert OptimizationConfig().model_dump() == DEFAULTS
    assert load_config([], environ={}, env_file=None).model_dump() == DEFAULTS


def test_every_field_is_documented_and_grouped() -> None:
    for name, field in OptimizationConfig.model_fields.items():
        assert field.description, name
        assert field.json_schema_extra["group"] in {
            "search", "training", "data", "results", "storage & workers", "GPU proxy", "health"}


def test_precedence_defaults_dotenv_environment_command_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "HYPEROPT_TRIALS=10\nHYPEROPT_WORKERS=2\nHYPEROPT_MODE=health\nOTHER=1\n", encoding="utf-8")
    environ = {"HYPEROPT_TRIALS": "20", "HYPEROPT_WORKERS": "3"}
    config = load_config(["trials=30"], environ=environ)
    assert (config.trials, config.workers, config.mode, config.sampler) == (30, 3, "health", "tpe")
    assert load_config([], environ=environ).trials == 20
    assert load_config([], environ={}).trials == 10
    assert load_config([], environ={}, env_file=None).trials == 50
    assert "HYPEROPT_MODE" not in os.environ  # read, never exported


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPEROPT_USE_GPU_PROXY", "true")
    assert load_config([]).use_gpu_proxy is True


def test_aliases() -> None:
    assert load_config(["max_epochs=7"], environ={}).max_epochs_per_trial == 7
    assert load_config([], environ={"HYPEROPT_MAX_EPOCHS": "8"}).max_epochs_per_trial == 8
    assert load_config([], environ={"HYPEROPT_GPU_PROXY_FALLBACK": "false"}).gpu_proxy_fallback_local is False
    assert OptimizationConfig(max_epochs=3, min_epochs_per_trial=1).max_epochs_per_trial == 3
    assert "given twice" in _error(["max_epochs=5", "max_epochs_per_trial=6"])
    message = _error([], environ={"HYPEROPT_MAX_EPOCHS": "5", "HYPEROPT_MAX_EPOCHS_PER_TRIAL": "6"})
    assert "HYPEROPT_MAX_EPOCHS" in message and "keep one" in message


def test_key_given_twice_and_missing_equals() -> None:
    assert _error(["trials=1", "trials=2"]) == "trials given twice: 'trials=1' and 'trials=2'; keep one"
    assert _error(["trials"]) == "expected key=value, got 'trials'"


def test_unknown_key_suggests_the_closest() -> None:
    assert _error(["trails=5"]) == (
        "unknown key 'trails' — did you mean 'trials'?; run with --help to list every key")
    assert _error({"max_epoch": 3}).startswith("unknown key 'max_epoch' — did you mean 'max_epochs")
    message = _error(["zzz=1"])
    assert "did you mean" not in message and "--help" in message


def test_key_spelling_is_forgiving() -> None:
    assert load_config(["Max-Epochs=7", " trials =3"], environ={}).max_epochs_per_trial == 7


def test_wrong_type_names_key_value_and_what_is_allowed() -> None:
    assert _error(["trials=ten"]) == "trials='ten' is not valid: expected an integer with 1 ≤ trials ≤ 1000000"
    assert _error(["trials=2.5"]) == "trials='2.5' is not valid: expected an integer with 1 ≤ trials ≤ 1000000"
    assert "expected a number with 0 ≤ health_weight ≤ 1" in _error(["health_weight=high"])
    assert "or none" in _error(["timeout_hours=nan"])


def test_out_of_range() -> None:
    assert _error(["health_weight=1.5"]) == "health_weight=1.5 is out of range: allowed 0 ≤ health_weight ≤ 1"
    assert _error(["timeout_hours=0"]) == "timeout_hours=0 is out of range: allowed timeout_hours > 0"
    assert _error(["trials=0"]) == "trials=0 is out of range: allowed 1 ≤ trials ≤ 1000000"
    assert _error(["trials=1000001"]) == "trials=1000001 is out of range: allowed 1 ≤ trials ≤ 1000000"
    assert "allowed 8 ≤ sequence_length ≤ 2000" in _error(["sequence_length=4"])
    assert "0 < validation_split < 1" in _error(["validation_split=1"])


def test_enum_values() -> None:
    assert _error(["sampler=bayes"]) == "sampler='bayes' is not valid: allowed tpe, random, cmaes"
    assert "did you mean 'tpe'?" in _error(["sampler=tpee"])
    assert "allowed all, best, none" in _error(["plot_generation=some"])
    assert load_config(["mode=HEALTH", "log_level=debug"], environ={}).log_level == "DEBUG"


@pytest.mark.parametrize("text,value", [
    ("true", True), ("TRUE", True), ("yes", True), ("1", True), ("on", True), ("On", True),
    ("false", False), ("False", False), ("no", False), ("0", False), ("off", False), ("OFF", False),
])
def test_bool_parsing(text: str, value: bool) -> None:
    assert load_config([f"use_gpu_proxy={text}"], environ={}).use_gpu_proxy is value


@pytest.mark.parametrize("text", ["maybe", "2", "", "none", "tru"])
def test_bool_rejects_anything_else(text: str) -> None:
    assert _error([f"save_best_model={text}"]).startswith(
        f"save_best_model={text!r} is not valid: expected true or false")


def test_none_for_optional_keys_only() -> None:
    config = load_config(
        ["activation=none", "timeout_hours=null", "image_size=", "run_name=None"],
        environ={"HYPEROPT_ACTIVATION": "relu"})
    assert (config.activation, config.timeout_hours, config.image_size, config.run_name) == (None,) * 4
    assert _error(["trials=none"]) == "trials='none' is not valid: expected an integer with 1 ≤ trials ≤ 1000000"
    assert "non-empty" in _error(["results_dir="])


def test_epoch_bounds_combination() -> None:
    message = _error(["min_epochs_per_trial=30", "max_epochs=10"])
    assert "min_epochs_per_trial=30" in message and "max_epochs_per_trial=10" in message


def test_health_only_objective_needs_health_mode() -> None:
    message = _error(["optimize_for=overall_health"])
    assert "optimize_for='overall_health'" in message and "mode='simple'" in message
    assert "val_accuracy" in message and "mode=health" in message
    assert load_config(["optimize_for=overall_health", "mode=health"], environ={}).optimize_for == "overall_health"
    assert load_config(["optimize_for=training_time"], environ={}).optimize_for == "training_time"


def test_pareto_fixes_its_objectives() -> None:
    assert load_config(["mode=pareto"], environ={}).optimize_for == "val_accuracy"
    message = _error(["mode=pareto", "optimize_for=accuracy"])  # alias of train_accuracy
    assert "mode='pareto'" in message and "optimize_for='train_accuracy'" in message


def test_objective_constants_match_the_model() -> None:
    literal = OptimizationConfig.model_fields["optimize_for"].annotation.__args__
    assert set(literal) == set(ALL_MODE_OBJECTIVES) | set(HEALTH_ONLY_OBJECTIVES)
    assert set(OBJECTIVES_BY_MODE) == {"simple", "health", "pareto"}
    assert not set(HEALTH_ONLY_OBJECTIVES) & set(OBJECTIVES_BY_MODE["simple"])
    # The accepted names are the scorers' names (hpopt.scoring), in the order help and errors list them.
    assert literal == tuple(OBJECTIVES) == ALL_MODE_OBJECTIVES + HEALTH_ONLY_OBJECTIVES
    assert ALL_MODE_OBJECTIVES == ("val_accuracy", "train_accuracy", "macro_f1", "balanced_accuracy",
                                   "training_time", "parameter_efficiency", "memory_efficiency", "inference_speed")


@pytest.mark.parametrize("name", [
    "a:b", "a/b", "a\\b", "a*", "what?", "<x>", 'q"', "a|b", "tab\there", ".", "..", "name.",
    "CON", "nul.txt", "com1", "x" * 101,
])
def test_run_name_must_be_a_portable_folder_name(name: str) -> None:
    with pytest.raises(ConfigError, match=r"^run_name=.* is not valid: expected"):
        load_config({"run_name": name}, environ={})


@pytest.mark.parametrize("name", ["my_run", "run-2024.01", "x" * 100, "console"])
def test_run_name_accepts_portable_names(name: str) -> None:
    assert load_config({"run_name": name}, environ={}).resolved_run_name() == name


def test_storage_must_be_an_optuna_url() -> None:
    for url in ("sqlite:///study.db", "postgresql://u:p@h/db", "mysql+pymysql://h/db"):
        assert load_config([f"storage={url}"], environ={}).storage == url
    message = _error(["storage=study.db"])
    assert message.startswith("storage='study.db' is not valid") and "sqlite:///" in message


def test_errors_from_the_environment_name_the_variable(tmp_path: Path) -> None:
    assert _error([], environ={"HYPEROPT_TRIALS": "x"}) == (
        "trials='x' is not valid: expected an integer with 1 ≤ trials ≤ 1000000 "
        "(set by HYPEROPT_TRIALS in the environment)")
    (tmp_path / ".env").write_text("HYPEROPT_HEALTH_WEIGHT=2\n", encoding="utf-8")
    assert _error([]).endswith("(set by HYPEROPT_HEALTH_WEIGHT in .env)")


def test_unknown_environment_variables_warn(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"HYPEROPT_TRAILS": "3", "HYPEROPT_API_KEY": "k", "HYPEROPT_PORT": "80", "PATH": "/bin"}
    with caplog.at_level(logging.WARNING, logger="hpopt.config"):
        config = load_config([], environ=environ)
    assert config.trials == 50
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring HYPEROPT_TRAILS in the environment: not a setting — did you mean HYPEROPT_TRIALS?"]


def test_unknown_dataset_lists_the_valid_ones() -> None:
    message = _error(["dataset=nosuchset"])
    assert "nosuchset" in message and "mnist" in message and "digits" in message
    assert load_config(["dataset=MNIST"], environ={}).dataset == "mnist"


def test_typed_values_from_an_api_mapping() -> None:
    config = load_config({"trials": 3, "health_weight": 1, "use_gpu_proxy": True, "timeout_hours": None},
                         environ={}, env_file=None)
    assert (config.trials, config.health_weight, config.use_gpu_proxy) == (3, 1.0, True)
    assert _error({"trials": True}) == "trials=true is not valid: expected an integer with 1 ≤ trials ≤ 1000000"
    assert _error({"sampler": 3}) == "sampler=3 is not valid: allowed tpe, random, cmaes"


def test_explain_validation_error_for_direct_construction() -> None:
    with pytest.raises(ValidationError) as info:
        OptimizationConfig(workers=0)
    assert explain_validation_error(info.value) == "workers=0 is out of range: allowed 1 ≤ workers ≤ 64"
    with pytest.raises(ValidationError) as info:
        OptimizationConfig(trails=3)
    assert "did you mean 'trials'" in explain_validation_error(info.value)


def test_default_run_name_is_stable_for_one_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = OptimizationConfig()
    first = config.resolved_run_name()
    ticks = iter([datetime(2031, 1, 1, tzinfo=timezone.utc)])

    class LaterClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(ticks)

    monkeypatch.setattr("hpopt.config.options.datetime", LaterClock)  # the module calling now()
    assert config.resolved_run_name() == config.default_run_name() == first
    assert OptimizationConfig().default_run_name().startswith("20310101_000000_")


def test_default_run_name_is_portable() -> None:
    now = datetime(2024, 3, 5, 7, 8, 9, tzinfo=timezone.utc)
    assert OptimizationConfig().default_run_name(now) == "20240305_070809_digits_simple"
    config = OptimizationConfig()
    assert re.fullmatch(r"\d{8}_\d{6}_digits_simple", config.resolved_run_name())
    config.run_name_time  # noqa: B018 - fixed at first use; never part of equality or the dict
    assert config == OptimizationConfig() and hash(config) == hash(OptimizationConfig())
    assert "run_name_time" not in config.to_dict()
    for dataset, stem in [("/data/My Images/", "My_Images"), ("C:\\data\\reviews.csv", "reviews"),
                          ("./x:y?.npz", "x_y"), ("...", "custom")]:
        config = OptimizationConfig.model_construct(**{**DEFAULTS, "dataset": dataset, "mode": "health"})
        name = config.default_run_name(now)
        assert name == f"20240305_070809_{stem}_health"
        assert not re.search(r'[<>:"/\\|?*\x00-\x1f ]', name)


def test_to_dict_is_plain_json_and_round_trips() -> None:
    config = load_config(["trials=3", "timeout_hours=1.5", "activation=swish"], environ={})
    data = json.loads(json.dumps(config.to_dict()))
    assert data["trials"] == 3 and data["timeout_hours"] == 1.5
    assert OptimizationConfig(**data) == config


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        OptimizationConfig().trials = 3  # type: ignore[misc]


def test_importing_config_stays_light() -> None:
    code = ("import sys, hpopt.config; heavy = {'tensorflow', 'keras', 'optuna', 'matplotlib'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(SRC)}, check=True)
    assert result.stdout.strip() == "[]"
