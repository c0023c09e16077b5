"""``python -m guicnn`` and the ``guicnn`` command: the command line (see guicnn.cli)."""

import os
import signal
import sys


def _quit_while_starting(signum: int, frame: object) -> None:
    # Ctrl+C (or SIGTERM) while the modules load: leave at once and quietly, there is nothing to
    # save yet. Not an exception: raised inside an extension's import (NumPy's), it would come
    # out as a misleading ImportError.
    os._exit(128 + signum)


def run() -> int:
    """Entry point: quiet interrupts while NumPy and the core load, then :func:`guicnn.cli.main`."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _quit_while_starting)
    from .cli import main
    from .core.allocator import keep_freed_memory

    keep_freed_memory()  # the process is ours: training steps reuse what the last one freed
    return main()


if __name__ == "__main__":
    sys.exit(run())
