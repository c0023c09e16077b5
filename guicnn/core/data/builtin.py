"""The data sets that ship with guicnn and need no network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset

DIGITS_FILE = "digits.npz"
#: Where the shipped digits come from (resources/DATA.md has the whole story).
DIGITS_CREDIT = ("UCI optical handwritten digits", "E. Alpaydin and C. Kaynak (1998), UCI Machine Learning "
                 "Repository, CC BY 4.0", "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits")
DIGITS_CLASSES = [str(i) for i in range(10)]
#: Pixel values of the UCI optical digits run 0..16 (counts of set pixels in 4x4 blocks).
DIGITS_MAX = 16


def _resource_file(name: str) -> Path:
    """Path of a file shipped in ``guicnn/resources``."""
    from ...resources import _FOLDER

    path = _FOLDER / name
    if not path.is_file():
        raise DataError(f"{name}: guicnn's shipped data file is missing (looked in {_FOLDER}); reinstall the package")
    return path


def load_digits() -> Dataset:
    """The UCI optical-recognition handwritten digits: 1,797 images of 8x8, ten classes.

    Source: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository, CC BY 4.0,
    as bundled with scikit-learn (see guicnn/resources/DATA.md). Pixels 0..16 are scaled to [0, 1].
    """
    path = _resource_file(DIGITS_FILE)
    try:
        with np.load(path, allow_pickle=False) as npz:
            images = npz["images"]
            labels = npz["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path.name}: the shipped digits file is damaged ({exc}); reinstall the package") from exc
    if images.ndim != 3 or images.shape[1:] != (8, 8) or labels.shape != (images.shape[0],):
        raise DataError(f"{path.name}: unexpected shapes {images.shape} and {labels.shape}")
    if images.size and int(images.max()) > DIGITS_MAX:
        raise DataError(f"{path.name}: pixel values above {DIGITS_MAX}")
    x = images.astype(np.float32)[:, None, :, :]
    x /= DIGITS_MAX
    return Dataset(x=x, y=labels.astype(np.int64), class_names=list(DIGITS_CLASSES), name="digits", source="built-in")
