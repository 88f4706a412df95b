"""The CLI: --help without TensorFlow, exit statuses, one-line errors, logging, results line.

Exit-status checks run ``python src/optimizer.py`` in a subprocess (cwd a tmp dir); the
rest calls hpopt.cli.main in-process with a fake hpopt.runner, so no TensorFlow loads.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from hpopt import __version__
from hpopt.cli import main
from hpopt.config import ConfigError, OptimizationConfig

SRC = Path(__file__).resolve().parents[1] / "src"
OPTIMIZER = SRC / "optimizer.py"
HEAVY = ("tensorflow", "keras", "optuna", "matplotlib")

def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HYPEROPT_")}
    return {**env, "PYTHONPATH": str(SRC), "PYTHONIOENCODING": "utf-8"}


def _optimizer(cwd: Path, *args: str, python_flags: tuple[str, ...] = ()):
    command = [sys.executable, *python_flags, str(OPTIMIZER)]
    return subprocess.run([*command, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HYPEROPT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A fake hpopt.runner; set .behaviour to a callable(config) to change what it does."""
    module = types.ModuleType("hpopt.runner")
    module.calls = []

    def run_optimization(config: OptimizationConfig, listener: object = None, launched_at: float = 0.0) -> Path:
        module.calls.append(config)
        module.launched_at = launched_at
        logging.getLogger("hpopt.runner").debug("fake runner debug detail")
        return module.behaviour(config)

    module.behaviour = lambda config: tmp_path / "optimization_results" / "run1"
    module.run_optimization = run_optimization
    monkeypatch.setitem(sys.modules, "hpopt.runner", module)
    return module


def test_help_lists_every_key_with_default_without_tensorflow(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = _optimizer(tmp_path, "--help", python_flags=("-X", "importtime"))
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    for name, field in OptimizationConfig.model_fields.items():
        default = field.default
        shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else (
            format(default, "g") if isinstance(default, float) else str(default))
        assert f"  {name}={shown}" in result.stdout, name
    for word in ("HYPEROPT_", ".env", "examples", "search:", "GPU proxy:", "health:"):
        assert word in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pydantic" in imported  # the import-time trace really is there
    assert not imported & set(HEAVY)
    assert elapsed < 3.0  # measured ~0.2 s; generous for slow CI machines
    assert not (tmp_path / "logs").exists()


def test_help_flags_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trials=3", "-h"]) == 0
    assert "usage: python src/optimizer.py" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hpopt {__version__}"


def test_unknown_key_exits_2_with_suggestion(tmp_path: Path) -> None:
    result = _optimizer(tmp_path, "trails=5")
    assert result.returncode == 2
    assert "did you mean 'trials'" in result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_dataset_exits_2_listing_valid_datasets(tmp_path: Path) -> None:
    result = _optimizer(tmp_path, "dataset=nosuchset")
    assert result.returncode == 2, result.stderr
    assert "nosuchset" in result.stderr and "mnist" in result.stderr and "digits" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_error_in_process(capsys: pytest.CaptureFixture[str], runner, tmp_path: Path) -> None:
    assert main(["health_weight=1.5"]) == 2
    err = capsys.readouterr().err
    assert err == "error: health_weight=1.5 is out of range: allowed 0 ≤ health_weight ≤ 1\n"
    assert runner.calls == [] and not (tmp_path / "logs").exists()
    assert main(["trials"]) == 2
    assert "expected key=value, got 'trials'" in capsys.readouterr().err
    assert main(["--fast"]) == 2
    assert "unknown option '--fast'" in capsys.readouterr().err


def test_success_prints_results_last_and_logs_debug(
    capsys: pytest.CaptureFixture[str], runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPEROPT_WORKERS", "2")
    handlers_before = list(logging.getLogger().handlers)
    assert main(["trials=3", "max_epochs=4", "min_epochs_per_trial=1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"results: {tmp_path / 'optimization_results' / 'run1'}"
    assert [(c.trials, c.max_epochs_per_trial, c.workers) for c in runner.calls] == [(3, 4, 2)]
    assert 0 <= time.time() - runner.launched_at < 3600  # timeout_hours counts from the process launch
    log = (tmp_path / "logs" / "optimization.log").read_text(encoding="utf-8")
    assert "DEBUG" in log and "fake runner debug detail" in log
    assert log[:4].isdigit() and "T" in log.split()[0]  # ISO timestamps
    assert logging.getLogger().handlers == handlers_before  # nothing left behind


def test_terminal_gets_warnings_only(capsys: pytest.CaptureFixture[str], runner,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPEROPT_TRAILS", "3")
    runner.behaviour = lambda config: logging.getLogger("hpopt.x").info("quiet") or Path("r")
    assert main([]) == 0
    captured = capsys.readouterr()
    assert "warning: ignoring HYPEROPT_TRAILS" in captured.err and "did you mean HYPEROPT_TRIALS" in captured.err
    assert "quiet" not in captured.err + captured.out


def test_keyboard_interrupt_exits_130(capsys: pytest.CaptureFixture[str], runner) -> None:
    def interrupt(config):
        raise KeyboardInterrupt

    runner.behaviour = interrupt
    assert main([]) == 130
    assert "results:" not in capsys.readouterr().out


def test_hpopt_error_uses_its_exit_code(capsys: pytest.CaptureFixture[str], runner) -> None:
    class RemoteFailed(RuntimeError):
        exit_code = 3

    RemoteFailed.__module__ = "hpopt.executors.gpu_proxy"

    def fail(config):
        raise RemoteFailed("the GPU proxy rejected the job; check gpu_proxy_endpoint")

    runner.behaviour = fail
    assert main([]) == 3
    assert capsys.readouterr().err == "error: the GPU proxy rejected the job; check gpu_proxy_endpoint\n"

    def bad_setting(config):
        raise ConfigError("image_size=9 does not fit this dataset")

    runner.behaviour = bad_setting
    assert main([]) == 2


def test_unexpected_error_exits_1_traceback_only_in_log(
    capsys: pytest.CaptureFixture[str], runner, tmp_path: Path
) -> None:
    class Foreign(RuntimeError):
        exit_code = 7  # not an hpopt class: its exit_code is not trusted

    def fail(config):
        raise Foreign("boom")

    runner.behaviour = fail
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Foreign: boom (traceback in ") and "Traceback" not in err
    log = (tmp_path / "logs" / "optimization.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "boom" in log


def test_readme_documents_every_key() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in OptimizationConfig.model_fields if f"| `{name}` |" not in readme]
    assert not missing, f"README's key table lacks {missing}"
