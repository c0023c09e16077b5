"""``load_dataset``: one entry point for built-in sets, downloaded sets and files or folders."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, printable
from ..layers.common import fmt_shape
from .builtin import DIGITS_CREDIT, load_digits
from .dataset import Dataset
from .download import ALIASES, DATASETS, canonical_name, dataset_dir, download, is_downloaded
from .loaders import (
    _GZIP_MAGIC,
    _ZIP_MAGIC,
    CIFAR_FOLDER,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    IMAGE_EXTENSIONS,
    _as_hw,
    _existing_file,
    _find_idx_pair,
    _load_idx_file,
    load_cifar10,
    load_csv,
    load_idx,
    load_image_folder,
    load_npz,
)
from .shapes import DEFAULT_SHAPE_CLASSES, SHAPE_CLASSES, make_shapes, make_shapes_rgb
from .shapes import MIN_SIZE as MIN_SHAPES_SIZE

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
    square grey input, colour shapes for a square RGB one (e.g. CIFAR-10's 3x32x32), with as
    many shape classes as the design has outputs (up to the generator's ten).
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
            options["size"] = shape[1]
        units = _output_units(config)  # as many shapes as the design has outputs (LeNet-5: ten)
        if units is not None and units != len(DEFAULT_SHAPE_CLASSES) and 2 <= units <= len(SHAPE_CLASSES):
            options["classes"] = list(SHAPE_CLASSES[:units])
    return DataSuggestion(now, options, made_for, download)


def _output_units(config: dict[str, Any]) -> int | None:
    """The design's number of outputs (its class count), None while it is invalid."""
    from ..analysis import analyze

    try:
        analysis = analyze(config)
    except (TypeError, ValueError):
        return None
    output = analysis.output_shape if analysis.valid else None
    return int(math.prod(output)) if output else None


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


def _folder_options(image_size: Sequence[int] | None, design_shape: Sequence[int] | None,
                    channels: int | None) -> dict[str, Any]:
    """How an image folder is read for a design: its size and channels, unless a size was asked for."""
    options: dict[str, Any] = {}
    shape = tuple(design_shape) if design_shape is not None else ()
    if image_size is not None:
        options["size"] = tuple(image_size)
    elif len(shape) == 3:
        options["size"] = shape[1:]
    if channels is not None:
        options["channels"] = int(channels)
    elif len(shape) == 3:
        options["channels"] = shape[0]
    return options


def is_image_folder(path: str | os.PathLike) -> bool:
    """Whether :func:`load_dataset` reads ``path`` as a folder of images per class (so that it can
    be read at another image size), rather than IDX files or CIFAR-10 batches."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    try:
        if _find_idx_pair(folder, "train") is not None or (folder / CIFAR_FOLDER).is_dir() \
                or any(folder.glob("data_batch_*.bin")) or any(folder.glob("test_batch*.bin")):
            return False
        return _has_image_subfolder(folder)
    except (OSError, DataError, ValueError):
        return False


def _load_folder(path: Path, split: str = "train", image_size: Sequence[int] | None = None,
                 design_shape: Sequence[int] | None = None, channels: int | None = None,
                 **options: Any) -> Dataset:
    pair = _find_idx_pair(path, split)
    if pair is not None:
        return _fixed_size(load_idx(*pair, **options), image_size)
    if (path / CIFAR_FOLDER).is_dir() or any(path.glob("data_batch_*.bin")) or any(path.glob("test_batch*.bin")):
        options.pop("class_names", None)
        return _fixed_size(load_cifar10(path, split=split, **options), image_size)
    if _has_image_subfolder(path):
        return load_image_folder(path, split=split, **_folder_options(image_size, design_shape, channels), **options)
    raise DataError(
        f"{printable(path.name)}: the folder holds no recognised data set (one subfolder of images per class, "
        "MNIST-style IDX files, or CIFAR-10 .bin batches)"
    )


def _fixed_size(ds: Dataset, image_size: Sequence[int] | None) -> Dataset:
    """Data sets other than image folders come in one size; a different size asked for is refused."""
    if image_size is not None and tuple(image_size) != ds.input_shape[1:]:
        h, w = ds.input_shape[1:]
        raise DataError(f"{printable(ds.name)}: its images are {h}x{w}; only image folders are resized "
                        f"(asked for {fmt_shape(image_size)})")
    return ds


def _load_file(path: Path, split: str = "train", image_size: Sequence[int] | None = None,
               design_shape: Sequence[int] | None = None, channels: int | None = None, **options: Any) -> Dataset:
    p, _ = _existing_file(path)
    lower = p.name.lower()
    class_names = options.pop("class_names", None)  # only IDX labels are bare indices to name
    if lower.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        raise DataError(f"{printable(p.name)}: is an archive; unpack it and load the folder or files inside")
    with open(p, "rb") as fh:
        head = fh.read(4)
    if lower.endswith(".npz") or head == _ZIP_MAGIC:
        ds = load_npz(p, split=split, **options)
    elif lower.endswith(".csv"):
        ds = load_csv(p, **options)
    elif lower.endswith(".bin"):
        ds = load_cifar10(p, **options)
    elif (lower.endswith((".gz", ".idx")) or "ubyte" in lower or "idx" in lower or head[:2] == _GZIP_MAGIC
          or int.from_bytes(head.ljust(4, b"\0"), "big") in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC)):
        ds = _load_idx_file(p, class_names=class_names, **options)
    else:
        raise DataError(
            f"{printable(p.name)}: unrecognised data file; expected .csv, .npz, a CIFAR-10 .bin batch, "
            "IDX images/labels (.gz or plain), or a folder"
        )
    return _fixed_size(ds, image_size)


#: Seed offset of the shapes set's test part: fresh pictures that no training seed below it draws.
SHAPES_TEST_SEED = 1_000_000
SHAPES_TEST_SIZE = 1000


def _load_builtin(key: str, split: str, image_size: Sequence[int] | None, **options: Any) -> Dataset:
    options.pop("class_names", None)
    if key == "digits":
        if split == "test":
            raise DataError("digits: the built-in digits are one set of 1,797 images with no separate test part; "
                            "score the model on the part it did not train on (its validation split) instead")
        return _fixed_size(load_digits(**options), image_size)
    if split == "test":
        options = {"n": SHAPES_TEST_SIZE, **options, "seed": SHAPES_TEST_SEED + int(options.get("seed", 0))}
    if image_size is not None:
        h, w = (int(v) for v in image_size)
        if h != w:
            raise DataError(f"{key}: the shapes are drawn square; asked for {h}x{w}")
        options.setdefault("size", h)
    return (make_shapes_rgb if key == "shapes-rgb" else make_shapes)(**options)


def load_dataset(spec: str | os.PathLike, *, split: str = "train", image_size: Sequence[int] | None = None,
                 design_shape: Sequence[int] | None = None, channels: int | None = None,
                 **options: Any) -> Dataset:
    """Load a data set by name or path.

    Names (strings, case-insensitive): "digits", "shapes" (options go to :func:`make_shapes`),
    "shapes-rgb" (colour shapes, 3x32x32; options go to :func:`make_shapes_rgb`), and "mnist",
    "fashion-mnist", "cifar10" from the download cache (``download=True`` to fetch a missing set,
    ``cache``, ``progress``, ``base_url``, ``stop_event``). A path is recognised by what it holds:
    a folder of class subfolders, a folder with IDX files or CIFAR-10 batches, or a ``.csv``,
    ``.npz``, ``.bin`` or IDX (``.gz``/plain) file; other options go to the matching loader.

    ``split`` is "train" or "test": a set's own test part (MNIST's t10k files, CIFAR-10's test
    batch, an image folder's ``test/`` subfolder, an NPZ's ``x_test``; fresh pictures for
    shapes; the digits have none). ``image_size`` = (height, width) resizes an image folder
    (other data refuse a size not their own). ``design_shape`` = the design's input (C, H, W):
    an image folder is read at that size and, when it mixes gray and colour, with that many
    channels, unless ``image_size`` says otherwise; ``channels`` (1 or 3) alone decides the
    latter. ``class_names`` fixes the classes of an image folder or IDX files (e.g. those of a
    trained model).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if image_size is not None:
        image_size = _as_hw(image_size)
    text = os.fspath(spec)
    if isinstance(spec, str):  # a name (a Path object is always a path; use "./mnist" for a folder)
        key = _canonical(text)
        if key in BUILTIN_DATASETS:
            return _load_builtin(key, split, image_size, **options)
        if key in DATASETS:
            download_missing = bool(options.pop("download", False))
            options.pop("class_names", None)
            return _fixed_size(_load_downloadable(key, split=split, download_missing=download_missing, **options),
                               image_size)
    path = Path(text).expanduser()
    if not path.exists():
        known = ", ".join(dataset_names())
        raise DataError(f"{printable(path.name or text)}: no such file or folder, and not a data set name ({known})")
    if path.is_dir():
        return _load_folder(path, split=split, image_size=image_size, design_shape=design_shape, channels=channels,
                            **options)
    return _load_file(path, split=split, image_size=image_size, design_shape=design_shape, **options)


__all__ = ["ALIASES", "BUILTIN_DATASETS", "BUILTIN_SHAPES", "DataSuggestion", "SHAPES_TEST_SEED", "data_credits",
           "dataset_names", "is_image_folder", "load_dataset", "suggest_data"]
