"""Test helpers for the robustness tests: image folders made of the built-in digits, a full disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from guicnn.core.data import load_digits


def digit_folder(root: Path, classes=(0, 1, 2), per_class: int = 30, scale: int = 1, test: int = 0) -> Path:
    """PNGs of the built-in digits in ``root/d<class>/`` (``scale`` times 8x8 pixels), and
    ``test`` more of each class in ``root/test/d<class>/``."""
    digits = load_digits()
    for c in classes:
        rows = np.flatnonzero(digits.y == c)
        for part, picked in (("", rows[:per_class]), ("test", rows[per_class:per_class + test])):
            folder = root / part / f"d{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in picked:
                pixels = (digits.x[i, 0] * 255).astype(np.uint8)
                Image.fromarray(pixels).resize((8 * scale, 8 * scale), Image.NEAREST).save(folder / f"{i}.png")
    return root


def fill_disk_in(monkeypatch, folder: Path) -> None:
    """From now on, writing a model file into ``folder`` fails as on a full disk (ENOSPC);
    writing anywhere else works."""
    import errno

    from guicnn.core import modelfile

    original = modelfile.save_file

    def full_there(tensors, filename, metadata=None):
        if Path(filename).parent == Path(folder):
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(tensors, filename, metadata=metadata)

    monkeypatch.setattr(modelfile, "save_file", full_there)
