"""The terminal face of hpopt: settings in, one run, the run folder's path out.

The CLI owns the terminal: library code logs, and this module decides what a person sees
(warnings and one-line errors) versus what goes to logs/optimization.log (everything, with
tracebacks). Heavy imports (TensorFlow, Optuna) happen only inside the runner, so --help
and bad settings answer instantly.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Optional

from hpopt import __version__
from hpopt.config import ConfigError, OptimizationConfig, load_config
from hpopt.masking import MaskingFormatter, mask_text
from hpopt.native_stderr import NativeStderrFilter

LOG_FILE = Path("logs") / "optimization.log"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FILE_ONLY = "hpopt_file_only"  # set on a log record (extra=) to keep it off the terminal
_NOISY_LOGGERS = ("matplotlib", "PIL", "urllib3", "h5py", "fsspec")

logger = logging.getLogger("hpopt.cli")


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI and return its exit status (the caller passes it to sys.exit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerate_unencodable_output()
    if argv[:1] == ["predict"]:  # `optimizer.py predict run=... input=...`: its own keys and help
        from hpopt.predict.cli import main as predict_main

        return predict_main(argv[1:])
    if "-h" in argv or "--help" in argv:
        from hpopt.cli_help import render_help

        try:
            print(render_help(), flush=True)
        except BrokenPipeError:  # `--help | head` closed the pipe: not an error
            sys.stderr.close()
        return EXIT_OK
    if "--version" in argv:
        print(f"hpopt {__version__}")
        return EXIT_OK
    options = [arg for arg in argv if arg.startswith("-") and "=" not in arg]
    if options:
        return _error(f"unknown option {options[0]!r}: options are --help and --version; "
                      "settings are key=value", EXIT_USAGE)
    logging_state = _LoggingSetup()
    native, stderr_before = NativeStderrFilter(str(LOG_FILE)), sys.stderr
    try:
        try:
            config = load_config(argv)
        except ConfigError as exc:
            return _error(str(exc), EXIT_USAGE)
        logging_state.attach_file(config)
        # TensorFlow's C++/absl lines go to the log file from here on (it loads inside _run)
        native.install()
        logging_state.console.setStream(sys.stderr)
        return _run(config, logging_state.log_path)
    finally:
        logging_state.console.setStream(stderr_before)
        native.close()
        logging_state.close()


def _run(config: OptimizationConfig, log_path: Optional[Path]) -> int:
    """Hand the config to the runner; map its outcome to an exit status (and notify_url's webhook)."""
    logger.info("hpopt %s starting with %s", __version__, config.to_dict())
    try:
        from hpopt import interrupts
        from hpopt.cli_progress import TerminalProgress
        from hpopt.run_clock import process_launch_time
        from hpopt.runner import run_optimization  # lazy: TensorFlow and Optuna load here

        interrupts.install()
        run_dir = run_optimization(config, TerminalProgress(), launched_at=process_launch_time())
    except KeyboardInterrupt:
        logger.info("interrupted by the user", extra={FILE_ONLY: True})
        print("interrupted", file=sys.stderr)
        _notify(config, "interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the CLI is the last place to turn it into a message
        logger.error("run failed", exc_info=True, extra={FILE_ONLY: True})
        _notify(config, "failed", error=f"{type(exc).__name__}: {exc}")
        code = _exit_code_of(exc)
        if code is not None:
            return _error(str(exc), code)
        where = f" (traceback in {log_path})" if log_path else ""
        return _error(f"{type(exc).__name__}: {exc}{where}", EXIT_FAILED)
    logger.info("run finished: %s", run_dir)
    _notify(config, "finished", run_dir=Path(run_dir))
    print(f"results: {run_dir}", flush=True)
    return EXIT_OK


def _notify(config: OptimizationConfig, status: str, run_dir: Optional[Path] = None,
            error: Optional[str] = None) -> None:
    """notify_url's POST (bounded wait, never raises): the run's outcome, with summary.json's numbers."""
    if not config.notify_url:
        return
    try:
        from hpopt.layout import RunLayout
        from hpopt.notify import notify, payload_from_summary, read_summary

        run_dir = run_dir or RunLayout.at(config.results_dir, config.resolved_run_name()).run_dir
        summary = read_summary(run_dir)
        payload = payload_from_summary(config.resolved_run_name(), status, summary,
                                       results=str(Path(run_dir).resolve()) if Path(run_dir).is_dir() else None,
                                       error=mask_text(error)[:500] if error else None)
        notify(config.notify_url, payload)
    except Exception:  # noqa: BLE001 - a webhook never changes a run's outcome
        logger.warning("webhook not sent", exc_info=True)


def _exit_code_of(exc: BaseException) -> Optional[int]:
    """The exit_code an hpopt error class declares, None for anyone else's exception."""
    code = getattr(exc, "exit_code", None)
    is_ours = type(exc).__module__.split(".")[0] == "hpopt"
    return code if is_ours and isinstance(code, int) and not isinstance(code, bool) else None


def _error(message: str, code: int) -> int:
    print(f"error: {mask_text(message)}", file=sys.stderr, flush=True)
    return code


def _tolerate_unencodable_output() -> None:
    """Messages use ≤ and —; a cp1252 pipe on Windows must not turn that into a crash."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_text(f"{record.levelname.lower()}: {record.getMessage()}")


class _LoggingSetup:
    """Root logging for one CLI call: terminal first (config warnings), the file once valid.

    Undone by close() so repeated main() calls (tests, the API) do not stack handlers.
    """

    def __init__(self) -> None:
        self.root = logging.getLogger()
        self.saved_level = self.root.level
        self.console = logging.StreamHandler(sys.stderr)
        self.console.setLevel(logging.WARNING)
        self.console.setFormatter(_ConsoleFormatter())
        self.console.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
        self.handlers: list[logging.Handler] = [self.console]
        self.log_path: Optional[Path] = None
        self.root.addHandler(self.console)
        if self.root.level > logging.WARNING or self.root.level == logging.NOTSET:
            self.root.setLevel(logging.WARNING)

    def attach_file(self, config: OptimizationConfig) -> None:
        """Detail at log_level (DEBUG by default) to logs/optimization.log; the terminal keeps warnings."""
        self.root.setLevel(logging.DEBUG)
        logging.captureWarnings(True)  # library UserWarnings go to the log file, not the terminal
        # Library warnings and Optuna's own trial messages go to the log file; the progress
        # lines already say what happened to each trial.
        self.console.addFilter(lambda record: record.name != "py.warnings" and not record.name.startswith("optuna"))
        for name in _NOISY_LOGGERS:
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.INFO)
        try:
            LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(LOG_FILE, encoding="utf-8")
        except OSError as exc:
            logger.warning("cannot write %s (%s); logging to the terminal only", LOG_FILE, exc)
            return
        formatter = MaskingFormatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
                                     "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.setLevel(getattr(logging, config.log_level))
        self.root.addHandler(handler)
        self.handlers.append(handler)
        self.log_path = LOG_FILE.resolve()

    def close(self) -> None:
        logging.captureWarnings(False)
        for handler in self.handlers:
            self.root.removeHandler(handler)
            handler.close()
        self.root.setLevel(self.saved_level)
