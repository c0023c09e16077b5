"""``python -m guicnn``: the command line (see guicnn.cli)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
