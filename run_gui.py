#!/usr/bin/env python
"""Start the guicnn desktop application: ``python run_gui.py [design.json | model.safetensors]``."""

import sys

from guicnn.ui.app import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
