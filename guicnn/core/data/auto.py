"""``load_dataset``: one entry point for built-in sets, downloaded sets and files or folders."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .builtin import DIGITS_CREDIT, load_digits
from .dataset import Dataset
from .download import ALIASES, DATASETS, canonical_name, dataset_dir, download, is_downloaded
from .loaders import (
    _ZIP_MAGIC,
    _GZIP_MAGIC,
    CIFAR_FOLDER,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    IMAGE_EXTENSIONS,
    _existing_file,
    _find_idx_pair,
    _load_idx_file,
    load_cifar10,
    load_csv,
    load_idx,
    load_image_folder,
    load_npz,
)
from .shapes import MIN_SIZE as MIN_SHAPES_SIZE
from .shapes import make_shapes, make_shapes_rgb

BUILTIN_DATASETS = ("digits", "shapes", "shapes-rgb")
#: The image size (C, H, W) each built-in set has by default.
BUILTIN_SHAPES = {"digits": (1, 8, 8), "shapes": (1, 28, 28), "shapes-rgb": (3, 32, 32)}
_BUILTIN_ALIASES = {"shapes_rgb": "shapes-rgb", "shapes_rgb32": "shapes-rgb", "shapes-rgb32": "shapes-rgb",
                    "colour-shapes": "shapes-rgb", "color-shapes": "shapes-rgb"}


@dataclass(frozen=True)
class DataSuggestion:
    """Which data a design trains on. ``now``: a built-in or already downloaded set that fits it
    (``now_options`` for ``load_dataset``, e.g. a size), or None; ``made_for``: the set the design
    was made for (a preset's ``"dataset"``), ``download_bytes`` its size when it still has to be
    downloaded (0 when it is here)."""

    now: str | None
    now_options: dict[str, Any] = field(default_factory=dict)
    made_for: str | None = None
    download_bytes: int = 0


def suggest_data(config: dict[str, Any], cache: str | os.PathLike | None = None) -> DataSuggestion:
    """The data a design can train on right away, and the one it was made for.

    The set named by the design's ``"dataset"`` wins when it is built in or downloaded; else a
    built-in set drawn at the design's input size: digits for 1x8x8, shapes for any other
    square grey input, colour shapes for a square RGB one (e.g. CIFAR-10's 3x32x32).
    """
    named = config.get("dataset") if isinstance(config, dict) else None
    made_for = _canonical(named) if isinstance(named, str) else None
    if made_for not in BUILTIN_DATASETS and made_for not in DATASETS:
        made_for = None
    download = DATASETS[made_for].total_size if made_for in DATASETS and not is_downloaded(made_for, cache) else 0
    if made_for in BUILTIN_DATASETS or (made_for in DATASETS and not download):
        return DataSuggestion(made_for, {}, made_for, 0)
    try:
        shape = tuple(int(v) for v in config.get("input_shape"))
    except (TypeError, ValueError):
        shape = ()
    now, options = None, {}
    if shape == BUILTIN_SHAPES["digits"]:
        now = "digits"
    elif len(shape) == 3 and shape[0] in (1, 3) and shape[1] == shape[2] and shape[1] >= MIN_SHAPES_SIZE:
        now = "shapes" if shape[0] == 1 else "shapes-rgb"
        if shape != BUILTIN_SHAPES[now]:
            options = {"size": shape[1]}
    return DataSuggestion(now, options, made_for, download)


def _canonical(name: str) -> str:
    key = canonical_name(name)
    return _BUILTIN_ALIASES.get(key, key)


def data_credits() -> list[tuple[str, str, str]]:
    """(title, credit and licence, homepage) of every data set guicnn ships or downloads."""
    shapes = ("Shapes, grey and in colour", "drawn by guicnn from a seed; no one's data, no licence terms", "")
    return [DIGITS_CREDIT, shapes] + [(spec.title, spec.licence, spec.homepage) for spec in DATASETS.values()]


def dataset_names() -> list[str]:
    """Every name ``load_dataset`` accepts besides a path (aliases aside)."""
    return [*BUILTIN_DATASETS, *DATASETS]


def _load_downloadable(
    name: str,
    split: str = "train",
    download_missing: bool = False,
    cache: str | os.PathLike | None = None,
    **download_options: Any,
) -> Dataset:
    spec = DATASETS[name]
    if split not in spec.splits:
        raise ValueError(f"{name}: split must be one of {list(spec.splits)}, got {split!r}")
    root = dataset_dir(name, cache)
    if not is_downloaded(name, cache):
        if not download_missing:
            raise DataError(
                f"{name}: not downloaded yet (looked in {root}); download it first with "
                f"guicnn.core.data.download({name!r}) or load_dataset({name!r}, download=True)"
            )
        download(name, cache=cache, **download_options)
    files = [root / rel for rel in spec.splits[split]]
    if spec.kind == "cifar10-tar":
        ds = load_cifar10(files, name=name)
        ds.source = str(root / CIFAR_FOLDER)
        return ds
    return load_idx(files[0], files[1], class_names=list(spec.class_names), name=name)


def _has_image_subfolder(folder: Path) -> bool:
    for d in folder.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in d.rglob("*")):
                return True
    return False


def _load_folder(path: Path, split: str = "train", **options: Any) -> Dataset:
    pair = _find_idx_pair(path, split)
    if pair is not None:
        return load_idx(*pair, **options)
    if (path / CIFAR_FOLDER).is_dir() or any(path.glob("data_batch_*.bin")) or any(path.glob("test_batch*.bin")):
        return load_cifar10(path, split=split, **options)
    if _has_image_subfolder(path):
        return load_image_folder(path, **options)
    raise DataError(
        f"{path.name}: the folder holds no recognised data set (one subfolder of images per class, "
        "MNIST-style IDX files, or CIFAR-10 .bin batches)"
    )


def _load_file(path: Path, **options: Any) -> Dataset:
    p, _ = _existing_file(path)
    lower = p.name.lower()
    if lower.endswith(".csv"):
        return load_csv(p, **options)
    if lower.endswith(".npz"):
        return load_npz(p, **options)
    if lower.endswith(".bin"):
        return load_cifar10(p, **options)
    if lower.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        raise DataError(f"{p.name}: is an archive; unpack it and load the folder or files inside")
    if lower.endswith((".gz", ".idx")) or "ubyte" in lower or "idx" in lower:
        return _load_idx_file(p, **options)
    with open(p, "rb") as fh:
        head = fh.read(4)
    if head == _ZIP_MAGIC:
        return load_npz(p, **options)
    if head[:2] == _GZIP_MAGIC or int.from_bytes(head.ljust(4, b"\0"), "big") in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        return _load_idx_file(p, **options)
    raise DataError(
        f"{p.name}: unrecognised data file; expected .csv, .npz, a CIFAR-10 .bin batch, IDX images/labels "
        "(.gz or plain), or a folder"
    )


def load_dataset(spec: str | os.PathLike, **options: Any) -> Dataset:
    """Load a data set by name or path.

    Names (strings, case-insensitive): "digits", "shapes" (options go to :func:`make_shapes`),
    "shapes-rgb" (colour shapes, 3x32x32; options go to :func:`make_shapes_rgb`), and "mnist",
    "fashion-mnist", "cifar10" from the download cache (options ``split`` = "train"/"test",
    ``download=True`` to fetch a missing set, ``cache``, ``progress``, ``base_url``,
    ``stop_event``). A path is recognised by what it holds: a folder of class subfolders,
    a folder with IDX files or CIFAR-10 batches, or a ``.csv``, ``.npz``, ``.bin`` or IDX
    (``.gz``/plain) file; options go to the matching loader.
    """
    text = os.fspath(spec)
    if isinstance(spec, str):  # a name (a Path object is always a path; use "./mnist" for a folder)
        key = _canonical(text)
        if key == "digits":
            return load_digits(**options)
        if key == "shapes":
            return make_shapes(**options)
        if key == "shapes-rgb":
            return make_shapes_rgb(**options)
        if key in DATASETS:
            download_missing = bool(options.pop("download", False))
            return _load_downloadable(key, download_missing=download_missing, **options)
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(dataset_names())
        raise DataError(f"{path.name or text}: no such file or folder, and not a data set name ({known})")
    if path.is_dir():
        return _load_folder(path, **options)
    return _load_file(path, **options)


__all__ = ["ALIASES", "BUILTIN_DATASETS", "BUILTIN_SHAPES", "DataSuggestion", "data_credits", "dataset_names", "load_dataset",
           "suggest_data"]
