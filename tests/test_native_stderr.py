"""The quiet terminal: TensorFlow's C++/absl lines (written to fd 2, out of Python's reach) go
to logs/optimization.log in CLI runs; everything else written to fd 2 still reaches the
terminal. Native lines are forced with a ctypes write(2, ...), since whether TensorFlow
prints its own on this machine depends on its version and hardware."""

from __future__ import annotations

import ctypes
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from api_helpers import clean_env

from hpopt.native_stderr import NativeStderrFilter, is_native_noise

REPO = Path(__file__).resolve().parents[1]
NOISE_PREFIXES = ("I0000", "W0000", "E0000", "WARNING: All log messages")
FORCED_NOISE = "E0000 00:00:1700000000.000000   4242 meta_optimizer.cc:966] E0000 test: remapper failed"
FORCED_REAL = "hpopt-test: a real native error stays visible"

# The CLI as a user runs it, with two native lines written to fd 2 while the run is on.
CLI_WITH_NATIVE_LINES = f"""
import ctypes, sys
sys.path.insert(0, {str(REPO / 'src')!r})
import hpopt.cli as cli
real_run = cli._run
def run(config, log_path):
    libc = ctypes.CDLL(None)
    for line in ({FORCED_NOISE!r}, {FORCED_REAL!r}):
        data = (line + "\\n").encode()
        libc.write(2, data, len(data))
    return real_run(config, log_path)
cli._run = run
sys.exit(cli.main(sys.argv[1:]))
"""


def native_write(text: str) -> None:
    data = text.encode()
    ctypes.CDLL(None).write(2, data, len(data))


@pytest.mark.parametrize("line", [
    "I0000 00:00:1733000000.123456   12345 port.cc:153] oneDNN custom operations are on.",
    "W0000 00:00:1733000000.123456   12345 gpu_device.cc:2344] Cannot dlopen some GPU libraries.",
    "E0000 00:00:1733000000.123456   12345 meta_optimizer.cc:966] remapper failed: INVALID_ARGUMENT",
    "E1202 12:50:30.123456   12345 cuda_dnn.cc:8310] Unable to register cuDNN factory",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "2026-12-02 12:00:00.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.",
])
def test_tensorflow_lines_are_recognised(line):
    assert is_native_noise(line.encode())


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):",
    "error: no trial completed",
    "F0000 00:00:1733000000.123456 12345 check.cc:1] Check failed: fatal lines stay visible",
    "Segmentation fault",
    "Error 2026: something",
])
def test_other_lines_are_not(line):
    assert not is_native_noise(line.encode())


def test_the_filter_logs_native_lines_and_passes_the_rest(capfd, caplog):
    caplog.set_level(logging.INFO, logger="hpopt.native")
    with NativeStderrFilter():
        native_write(FORCED_NOISE + "\n")
        native_write(FORCED_REAL + "\n")
        native_write("progress without newline ")
        time.sleep(0.3)
        early = capfd.readouterr().err  # a partial line is not held back until the end
    err = early + capfd.readouterr().err
    assert FORCED_REAL in err and "progress without newline" in early
    assert "E0000" not in err and "remapper" not in err
    assert [r.getMessage() for r in caplog.records if r.name == "hpopt.native"] == [FORCED_NOISE]


def test_warnings_that_matter_are_reworded_once(capfd, caplog):
    caplog.set_level(logging.INFO, logger="hpopt.native")
    oom = ("2026-12-02 12:00:00.123456: W tensorflow/core/common_runtime/bfc_allocator.cc:501] Allocator (GPU_0_bfc) "
           "ran out of memory trying to allocate 1.50GiB (rounded to 1610612736)\n")
    with NativeStderrFilter("logs/optimization.log"):
        native_write(oom)
        native_write(oom)
    err = capfd.readouterr().err.splitlines()
    assert err == ["warning: TensorFlow ran out of accelerator memory allocating 1.50GiB: smaller models or batch "
                   "sizes fit better (details in logs/optimization.log)"]
    assert len([r for r in caplog.records if "ran out of memory" in r.getMessage()]) == 2


def test_fd2_is_given_back(capfd):
    native_filter = NativeStderrFilter().install()
    native_filter.close()
    native_write("after close\n")
    assert "after close" in capfd.readouterr().err and not native_filter.active


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A real CLI run (digits, 2 trials, 1 epoch) with TensorFlow's own log level left as a user has it."""
    work = tmp_path_factory.mktemp("quiet")
    env = {k: v for k, v in clean_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", CLI_WITH_NATIVE_LINES, "dataset=digits", "trials=2", "max_epochs_per_trial=1",
         "min_epochs_per_trial=1", "n_startup_trials=1", "plot_generation=none", "results_dir=res"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    return {"result": result, "log": (work / "logs" / "optimization.log").read_text(errors="replace")}


def test_cli_run_succeeds_with_the_results_line_last(cli_run):
    result = cli_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("results: ")


def test_cli_terminal_has_no_tensorflow_log_lines(cli_run):
    result = cli_run["result"]
    for line in (result.stdout + result.stderr).replace("\r", "\n").splitlines():
        assert not line.lstrip().startswith(NOISE_PREFIXES), line


def test_cli_log_file_receives_the_native_lines(cli_run):
    assert FORCED_NOISE in cli_run["log"]
    assert "hpopt.native" in cli_run["log"]


def test_cli_keeps_other_native_output_visible(cli_run):
    assert FORCED_REAL in cli_run["result"].stderr
    assert "trial   0" in cli_run["result"].stderr  # the progress lines still reach the terminal
