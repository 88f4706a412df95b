"""API entry point: ``python src/api_server.py [key=value ...]`` (see --help).

Thin like optimizer.py: makes ``hpopt`` importable from a plain checkout and hands over
to hpopt.api.cli, which never imports TensorFlow (jobs train in their own processes).
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent)
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from hpopt.api.cli import main  # noqa: E402 - needs the sys.path entry above

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
