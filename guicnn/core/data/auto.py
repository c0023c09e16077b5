"""``load_dataset``: one entry point for built-in sets, downloaded sets and files or folders."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError, printable
from ..layers.common import fmt_shape
from .builtin import load_digits
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
from .shapes import make_shapes

BUILTIN_DATASETS = ("digits", "shapes")


def dataset_names() -> list[str]:
    """Every name ``load_dataset`` accepts besides a path."""
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
            raise DataError(f"shapes: the shapes are drawn square; asked for {h}x{w}")
        options.setdefault("size", h)
    return make_shapes(**options)


def load_dataset(spec: str | os.PathLike, *, split: str = "train", image_size: Sequence[int] | None = None,
                 design_shape: Sequence[int] | None = None, channels: int | None = None,
                 **options: Any) -> Dataset:
    """Load a data set by name or path.

    Names (strings, case-insensitive): "digits", "shapes" (options go to :func:`make_shapes`), and "mnist",
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
        key = canonical_name(text)
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


__all__ = ["ALIASES", "BUILTIN_DATASETS", "SHAPES_TEST_SEED", "dataset_names", "is_image_folder", "load_dataset"]
