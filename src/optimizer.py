"""CLI entry point: ``python src/optimizer.py key=value ...`` (see --help).

Deliberately thin: it only makes ``hpopt`` importable from a plain checkout and hands over
to hpopt.cli, which keeps TensorFlow out of --help and of configuration errors.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent)
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from hpopt.cli import main  # noqa: E402 - needs the sys.path entry above

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
