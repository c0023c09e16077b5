"""Files shipped inside the package: the built-in digits (``digits.npz``, see ``DATA.md``) and
the preset designs (``presets/*.json``). They are package data, so a wheel carries them."""

from __future__ import annotations

from pathlib import Path

_FOLDER = Path(__file__).resolve().parent


def resource_dir() -> Path:
    """The folder holding the shipped data sets and presets."""
    if not (_FOLDER / "presets").is_dir():
        raise FileNotFoundError(f"guicnn's resources folder is incomplete ({_FOLDER} has no presets); "
                                "reinstall the package")
    return _FOLDER


def resource_path(*parts: str) -> Path:
    """Path of one shipped file, e.g. ``resource_path("presets", "lenet5.json")``."""
    return resource_dir().joinpath(*parts)


def guide_dir() -> Path:
    """The folder of the user guide's Markdown pages (Help ▸ User guide)."""
    folder = _FOLDER / "guide"
    if not (folder / "index.md").is_file():
        raise FileNotFoundError(f"guicnn's user guide is missing ({folder} has no index.md); reinstall the package")
    return folder
