"""Locate files shipped in ``resources/`` (repository checkout or installed wheel)."""

from __future__ import annotations

from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "resources",  # source checkout / editable install
    Path(__file__).resolve().parent / "resources",  # wheel: mapped package guicnn.resources
)


def resource_dir() -> Path:
    """The folder holding the shipped data sets and presets."""
    for candidate in _CANDIDATES:
        if (candidate / "presets").is_dir():
            return candidate
    raise FileNotFoundError(
        "guicnn's resources folder is missing; reinstall the package "
        f"(looked in {', '.join(str(c) for c in _CANDIDATES)})"
    )


def resource_path(*parts: str) -> Path:
    """Path of one shipped file, e.g. ``resource_path("presets", "lenet5.json")``."""
    return resource_dir().joinpath(*parts)


_GUIDE_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "docs" / "guide",  # source checkout / editable install
    Path(__file__).resolve().parent / "guide",  # wheel: mapped package guicnn.guide
)


def guide_dir() -> Path:
    """The folder of the user guide's Markdown pages (Help ▸ User guide)."""
    for candidate in _GUIDE_CANDIDATES:
        if (candidate / "index.md").is_file():
            return candidate
    raise FileNotFoundError(
        "guicnn's user guide is missing; reinstall the package "
        f"(looked in {', '.join(str(c) for c in _GUIDE_CANDIDATES)})"
    )
