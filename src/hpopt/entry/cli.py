"""The installed ``hpopt`` command: one name for the CLI's run, the API server and predict.

``hpopt run key=value ...`` is ``python src/optimizer.py key=value ...``, ``hpopt serve
key=value ...`` is ``python src/api_server.py key=value ...`` and ``hpopt predict ...`` is the
CLI's own ``predict`` subcommand. Each hands its arguments on unchanged, so the help, the
errors and the exit statuses are those of the command it stands for.
"""

from __future__ import annotations

import sys
from typing import Optional

from hpopt import __version__

EXIT_USAGE = 2

USAGE = f"""\
hpopt {__version__}: hyperparameter optimization of Keras models with Optuna

usage:
  hpopt run key=value ...      run one optimization (same as python src/optimizer.py)
  hpopt serve key=value ...    start the REST API server and dashboard (same as python src/api_server.py)
  hpopt predict ...            predict with a finished run's best model (the CLI's predict subcommand)
  hpopt <command> --help       the keys of a command, with their defaults
  hpopt --version
"""


def main(argv: Optional[list[str]] = None) -> int:
    """Dispatch to the command named first; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_USAGE
    if argv[0] == "--version":
        print(f"hpopt {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        from hpopt.cli import main as run_main

        return run_main(rest)
    if command == "predict":
        from hpopt.cli import main as cli_main

        return cli_main(["predict", *rest])
    if command == "serve":
        from hpopt.api.cli import main as serve_main

        return serve_main(rest)
    print(f"error: unknown command {command!r}: commands are run, serve and predict "
          "(settings are key=value after the command)\n", file=sys.stderr)
    print(USAGE, end="", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
