"""``python -m hpopt.predict run=... input=...``: the API server runs predictions this way, in a subprocess."""

import sys

from hpopt.predict.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
