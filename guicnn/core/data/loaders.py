"""Readers for data set files: IDX (MNIST, Fashion-MNIST), CIFAR-10 binary batches, a folder
of images per class, CSV with a label column, and NPZ.

Every reader validates what it reads and raises :class:`~guicnn.core.errors.DataError`
naming the file and what was wrong. Declared sizes in headers are checked against the
real file size before anything is allocated, so a forged or truncated file fails fast.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, printable
from ..limits import class_count_problem, implausible_compression, over_budget
from .dataset import Dataset
from .images import IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS, luma, read_header, read_rgb  # noqa: F401 (re-exported)

PathLike = str | os.PathLike

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
#: Deflate cannot expand data by more than about 1032:1; a gzip or zip member that claims
#: more is forged or corrupt, and is refused before anything is allocated.
MAX_DEFLATE_RATIO = 1032
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 22

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
CIFAR_IMAGE_SHAPE = (3, 32, 32)
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32  # one label byte, then R, G and B planes of 32x32
CIFAR_META_FILE = "batches.meta.txt"
CIFAR_FOLDER = "cifar-10-batches-bin"

COLOR_MODES = ("auto", "grayscale", "rgb")


# --------------------------------------------------------------------------- helpers


def _fail(path: PathLike, message: str) -> DataError:
    return DataError(f"{printable(Path(path).name)}: {message}")


def _existing_file(path: PathLike) -> tuple[Path, int]:
    """The path and its size; DataError if missing, not a file, or empty."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise _fail(p, f"no such file ({p})") from None
    except OSError as exc:
        raise _fail(p, f"cannot read the file ({exc.strerror or exc})") from exc
    if not p.is_file():
        raise _fail(p, f"is not a file ({p})")
    if st.st_size == 0:
        raise _fail(p, "the file is empty")
    return p, st.st_size


def _read_up_to(stream: Any, n: int) -> bytes:
    """Read n bytes (fewer only at end of stream), in bounded chunks."""
    parts = []
    left = n
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _default_class_names(path: PathLike, y: np.ndarray) -> list[str]:
    """"0".."largest label", after checking that the count of classes is sensible."""
    top = int(y.max()) if y.size else 0
    if (message := class_count_problem(top)):
        raise _fail(path, message)
    return [str(i) for i in range(top + 1)]


def _check_labels(path: PathLike, y: np.ndarray, class_names: Sequence[str]) -> None:
    """DataError naming the first label outside 0..len(class_names)-1."""
    if y.size == 0:
        return
    bad = np.flatnonzero((y < 0) | (y >= len(class_names)))
    if bad.size:
        i = int(bad[0])
        raise _fail(
            path,
            f"label {int(y[i])} of sample {i} is out of range for {len(class_names)} classes "
            f"(valid labels are 0..{len(class_names) - 1})",
        )


def _unit_scale(path: PathLike, x: np.ndarray, what: str = "pixel values") -> np.ndarray:
    """float32 copy of ``x`` scaled to [0, 1]: 8-bit data and floats above 1 are divided by 255."""
    if x.dtype == bool:
        return x.astype(np.float32)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise _fail(path, f"{what} must be numbers, got dtype {x.dtype}")
    if x.size == 0:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise _fail(path, f"{what} include NaN or infinity")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0:
        raise _fail(path, f"{what} must not be negative (found {lo:g}); expected 0..1 or 0..255")
    if hi > 255:
        raise _fail(path, f"{what} go up to {hi:g}; expected 0..1 or 0..255")
    out = x.astype(np.float32)
    if x.dtype == np.uint8 or hi > 1:
        out /= 255.0
    return out


def _infer_image_shape(path: PathLike, n_values: int) -> tuple[int, int, int]:
    side = math.isqrt(n_values)
    if side * side == n_values:
        return (1, side, side)
    if n_values % 3 == 0:
        side = math.isqrt(n_values // 3)
        if 3 * side * side == n_values:
            return (3, side, side)
    raise _fail(
        path,
        f"cannot infer a square image from {n_values} pixel values per sample; pass image_shape=(H, W) or (C, H, W)",
    )


def _as_image_shape(path: PathLike, image_shape: Sequence[int], n_values: int) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W) or (C, H, W) of positive sizes, got {image_shape}")
    if math.prod(shape) != n_values:
        raise _fail(path, f"image_shape {shape} needs {math.prod(shape)} values per sample, the file has {n_values}")
    return shape  # type: ignore[return-value]


# --------------------------------------------------------------------------- IDX


def _idx_kind(magic: int) -> str:
    return {IDX_IMAGES_MAGIC: "image", IDX_LABELS_MAGIC: "label"}.get(magic, "")


def read_idx(path: PathLike, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file (gzip-compressed or plain) whose magic must be ``magic``."""
    p, size = _existing_file(path)
    kind = _idx_kind(magic) or "IDX"
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    try:
        with open(p, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            head = _read_up_to(stream, 4)
            if len(head) < 4:
                raise _fail(p, f"only {len(head)} byte(s) of data: too short for an IDX header")
            found = int.from_bytes(head, "big")
            if found != magic:
                other = _idx_kind(found)
                hint = f" (this is an IDX {other} file)" if other else " (this is not an IDX file of unsigned bytes)"
                raise _fail(p, f"expected magic {magic} for an IDX {kind} file, found {found}{hint}")
            dims_raw = _read_up_to(stream, 4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise _fail(p, "truncated IDX header")
            dims = tuple(int.from_bytes(dims_raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
            what = f"{dims[0]:,} {kind}s" + (f" of {dims[1]}x{dims[2]}" if ndim == 3 else "")
            if min(dims) == 0:
                raise _fail(p, f"the header declares an empty array {dims}")
            payload = math.prod(dims)
            if compressed and (message := implausible_compression(payload, size, f"the header declares {what}")):
                raise _fail(p, message)
            # the bytes, then float32 pixels (or int64 labels)
            if (message := over_budget(payload * (5 if magic == IDX_IMAGES_MAGIC else 9), what)):
                raise _fail(p, message)
            if not compressed:
                available = size - header_len
                if available < payload:
                    raise _fail(
                        p,
                        f"truncated: the header declares {what} ({payload:,} bytes) "
                        f"but only {available:,} bytes follow",
                    )
                if available > payload:
                    raise _fail(
                        p,
                        f"{available - payload:,} unexpected bytes after the {what} the header declares",
                    )
            elif payload > size * MAX_DEFLATE_RATIO:
                raise _fail(
                    p,
                    f"the header declares {what} ({payload:,} bytes), more than a gzip file of "
                    f"{size:,} bytes can hold: the file is corrupt",
                )
            data = _read_up_to(stream, payload)
            if len(data) < payload:
                raise _fail(
                    p, f"truncated: the header declares {what} ({payload:,} bytes) but only {len(data):,} bytes follow"
                )
            if compressed and stream.read(1):
                raise _fail(p, f"more data than the {what} the header declares")
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(p, f"cannot read the IDX data, the file is damaged ({type(exc).__name__}: {exc})") from exc
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def load_idx(
    images_path: PathLike,
    labels_path: PathLike,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
) -> Dataset:
    """MNIST-style IDX files (``.gz`` or plain): images (magic 2051) and labels (magic 2049).

    Class names default to "0".."max label"; when ``class_names`` is given every label must
    index into it.
    """
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise _fail(
            labels_path,
            f"holds {labels.shape[0]:,} labels but {Path(images_path).name} holds {images.shape[0]:,} images",
        )
    y = labels.astype(np.int64)
    names = list(class_names) if class_names is not None else _default_class_names(labels_path, y)
    _check_labels(labels_path, y, names)
    x = images[:, None, :, :].astype(np.float32)
    x /= 255.0
    return Dataset(x=x, y=y, class_names=names, name=name or Path(images_path).name, source=str(images_path))


_IDX_SWAPS = (("images", "labels"), ("idx3", "idx1"))


def _idx_partner(path: Path, to_labels: bool) -> Path | None:
    """The label file next to an image file (or the other way round), by file name."""
    name = path.name
    for a, b in _IDX_SWAPS:
        src, dst = (a, b) if to_labels else (b, a)
        name = re.sub(src, dst, name, flags=re.IGNORECASE)
    if name == path.name:
        return None
    stem = name[:-3] if name.lower().endswith(".gz") else name
    for candidate in (name, stem, stem + ".gz"):
        if (path.parent / candidate).is_file():
            return path.parent / candidate
    return None


def _idx_magic(path: Path) -> int:
    """The first four bytes of an IDX file (after gunzip) as an integer; DataError if unreadable."""
    p, _ = _existing_file(path)
    try:
        with open(p, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            head = stream.read(4)
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(p, f"cannot read the gzip IDX data ({exc})") from exc
    if len(head) < 4:
        raise _fail(p, f"only {len(head)} byte(s) of data: too short for an IDX header")
    return int.from_bytes(head, "big")


def _load_idx_file(path: Path, class_names: Sequence[str] | None = None, name: str | None = None) -> Dataset:
    lower = path.name.lower()
    if "images" in lower or "idx3" in lower:  # the name tells the role; read_idx checks the magic
        magic = IDX_IMAGES_MAGIC
    elif "labels" in lower or "idx1" in lower:
        magic = IDX_LABELS_MAGIC
    else:
        magic = _idx_magic(path)
    if magic == IDX_IMAGES_MAGIC:
        partner = _idx_partner(path, to_labels=True)
        if partner is None:
            raise _fail(path, "found no matching IDX label file next to it (e.g. train-labels-idx1-ubyte.gz)")
        return load_idx(path, partner, class_names=class_names, name=name)
    if magic == IDX_LABELS_MAGIC:
        partner = _idx_partner(path, to_labels=False)
        if partner is None:
            raise _fail(path, "found no matching IDX image file next to it (e.g. train-images-idx3-ubyte.gz)")
        return load_idx(partner, path, class_names=class_names, name=name)
    raise _fail(
        path,
        f"expected magic {IDX_IMAGES_MAGIC} (IDX images) or {IDX_LABELS_MAGIC} (IDX labels), found {magic}",
    )


def _find_idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``split`` in ``folder``, if there are any."""
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and "idx3" in p.name.lower() and "image" in p.name.lower()
    )
    pairs = [(img, lab) for img in images if (lab := _idx_partner(img, to_labels=True)) is not None]
    if not pairs:
        return None
    known = {"train": ("train",), "test": ("t10k", "test")}
    if split not in known:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    for img, lab in pairs:
        if img.name.lower().startswith(known[split]):
            return img, lab
    unnamed = [pair for pair in pairs if not pair[0].name.lower().startswith(("train", "t10k", "test"))]
    if len(unnamed) == 1:  # one pair that belongs to no split in particular
        return unnamed[0]
    raise _fail(folder, f"has no IDX image file for split {split!r}; found {[p.name for p, _ in pairs]}")


# --------------------------------------------------------------------------- CIFAR-10


def _cifar_meta(folder: Path) -> list[str] | None:
    meta = folder / CIFAR_META_FILE
    if not meta.is_file():
        return None
    size = meta.stat().st_size
    if size > 65536:
        raise _fail(meta, f"is {size:,} bytes, too large for a list of class names")
    try:
        text = meta.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(meta, f"is not UTF-8 text ({exc})") from exc
    names = [line.strip() for line in text.splitlines() if line.strip()]
    return names or None


def _batch_number(p: Path) -> int:
    m = re.search(r"(\d+)", p.stem)
    return int(m.group(1)) if m else 0


def _cifar_files(paths_or_dir: PathLike | Iterable[PathLike], split: str) -> tuple[list[Path], Path]:
    if isinstance(paths_or_dir, (str, os.PathLike)):
        p = Path(paths_or_dir)
        if p.is_dir():
            folder = p / CIFAR_FOLDER if (p / CIFAR_FOLDER).is_dir() else p
            train = sorted(folder.glob("data_batch_*.bin"), key=_batch_number)
            test = sorted(folder.glob("test_batch*.bin"))
            if split not in ("train", "test", "all"):
                raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
            files = {"train": train, "test": test, "all": train + test}[split]
            if not files:
                found = sorted(q.name for q in folder.glob("*.bin"))
                raise _fail(
                    folder,
                    f"no CIFAR-10 {split} batches (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) "
                    f"in this folder; .bin files found: {found or 'none'}",
                )
            return files, folder
        return [p], p.parent
    files = [Path(q) for q in paths_or_dir]
    if not files:
        raise DataError("load_cifar10: no files given")
    return files, files[0].parent


def load_cifar10(
    paths_or_dir: PathLike | Iterable[PathLike],
    split: str = "train",
    name: str | None = None,
) -> Dataset:
    """CIFAR-10 binary batches: a folder (``data_batch_*.bin`` for split "train",
    ``test_batch.bin`` for "test", both for "all"), one ``.bin`` file, or a list of files.

    Class names come from ``batches.meta.txt`` beside the batches when present, else the
    standard ten.
    """
    files, folder = _cifar_files(paths_or_dir, split)
    names = _cifar_meta(folder) or list(CIFAR10_CLASSES)
    counts = []
    for f in files:
        p, size = _existing_file(f)
        if size % CIFAR_RECORD_BYTES:
            hint = " (2-byte labels: is this CIFAR-100?)" if size % (CIFAR_RECORD_BYTES + 1) == 0 else ""
            raise _fail(
                p, f"size {size:,} bytes is not a whole number of {CIFAR_RECORD_BYTES:,}-byte CIFAR-10 records{hint}"
            )
        counts.append(size // CIFAR_RECORD_BYTES)
    total = sum(counts)
    if (message := over_budget(total * (CIFAR_RECORD_BYTES + 4 * math.prod(CIFAR_IMAGE_SHAPE) + 8),
                               f"{total:,} CIFAR-10 images")):
        raise _fail(folder, message)
    x = np.empty((total, *CIFAR_IMAGE_SHAPE), dtype=np.float32)
    y = np.empty(total, dtype=np.int64)
    start = 0
    for f, count in zip(files, counts):
        try:
            with open(f, "rb") as fh:
                raw = _read_up_to(fh, count * CIFAR_RECORD_BYTES)
        except OSError as exc:
            raise _fail(f, f"cannot read the file ({exc})") from exc
        if len(raw) != count * CIFAR_RECORD_BYTES:
            raise _fail(f, "the file changed while it was read")
        records = np.frombuffer(raw, dtype=np.uint8).reshape(count, CIFAR_RECORD_BYTES)
        labels = records[:, 0].astype(np.int64)
        bad = np.flatnonzero(labels >= len(names))
        if bad.size:
            i = int(bad[0])
            raise _fail(
                f,
                f"label byte {int(labels[i])} of record {i} is out of range for {len(names)} classes: "
                "not a CIFAR-10 binary batch",
            )
        x[start : start + count] = records[:, 1:].reshape(count, *CIFAR_IMAGE_SHAPE)
        y[start : start + count] = labels
        start += count
    x /= 255.0
    label = name or (folder.name if len(files) > 1 else files[0].name)
    return Dataset(x=x, y=y, class_names=names, name=label, source=str(folder if len(files) > 1 else files[0]))


# --------------------------------------------------------------------------- image folder

#: Subfolder names that hold a split's class folders (``root/train/cats/1.png``) rather than a class.
SPLIT_FOLDERS = {"train": ("train", "training"), "test": ("test", "testing"), "val": ("val", "valid", "validation")}


class ImageSizeError(DataError):
    """The images of a folder differ in size and no size was chosen.

    ``sizes`` maps each (height, width) found to how many images have it, most common first;
    ``examples`` gives one file (relative to the folder) of each size.
    """

    def __init__(self, message: str, sizes: dict[tuple[int, int], int], examples: dict[tuple[int, int], str]):
        super().__init__(message)
        self.sizes = sizes
        self.examples = examples


def class_name(folder_name: str) -> str:
    """A class name from a folder name; bytes that are not UTF-8 are kept as ``\\xe9`` escapes."""
    return printable(folder_name)


def _image_files(folder: Path) -> list[Path]:
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel):
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            found.append(p)
    return sorted(found)


def _subfolders(path: Path) -> list[Path]:
    try:
        entries = sorted(path.iterdir(), key=lambda q: q.name)
    except OSError as exc:
        raise _fail(path, f"cannot list the folder ({exc.strerror or exc})") from None
    return [d for d in entries if d.is_dir() and not d.name.startswith(".") and d.name != "__MACOSX"]


def _class_folders(path: Path, skip: Iterable[Path] = ()) -> list[tuple[str, list[Path]]]:
    """(class name, image files) of every subfolder holding images, sorted by folder name."""
    skipped = set(skip)
    classes = []
    for d in _subfolders(path):
        if d in skipped:
            continue
        files = _image_files(d)
        if files:
            classes.append((class_name(d.name), files))
    return classes


def _split_folder(root: Path, split: str) -> Path | None:
    """``root/train`` (etc.) when it holds class folders of its own, else None."""
    names = SPLIT_FOLDERS[split]
    for d in _subfolders(root):
        if d.name.lower() in names and any(_image_files(c) for c in _subfolders(d)):
            return d
    return None


def image_folder_classes(path: PathLike, split: str = "train") -> tuple[list[str], list[tuple[str, list[Path]]]]:
    """(class names of the training part, [(class, files)] of ``split``) of an image-folder set.

    Layouts: ``root/<class>/...`` (the training part), optionally with ``root/test/<class>/...``;
    or ``root/train/<class>/...`` and ``root/test/<class>/...``. The training part's class
    names fix the class indices of every split.
    """
    root = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    split_dirs = {name: _split_folder(root, name) for name in SPLIT_FOLDERS}
    train_dir = split_dirs["train"]
    train = _class_folders(train_dir) if train_dir else _class_folders(
        root, skip=[d for d in split_dirs.values() if d is not None])
    reference = [name for name, _ in train]
    if split == "train":
        if not train:
            raise _fail(root, "holds no class subfolders with images (expected e.g. cats/001.png, dogs/002.png)")
        return reference, train
    test_dir = split_dirs["test"]
    if test_dir is None:
        found = [printable(d.name) for d in _subfolders(root)]
        raise _fail(root, "has no test part: expected a test/ subfolder with one folder of images per class "
                          f"(subfolders found: {', '.join(found[:12]) or 'none'})")
    return reference or [name for name, _ in _class_folders(test_dir)], _class_folders(test_dir)


def _choose_size(root: Path, headers: list[tuple[Path, tuple[int, int]]]) -> tuple[int, int]:
    counts: dict[tuple[int, int], int] = {}
    examples: dict[tuple[int, int], str] = {}
    for f, hw in headers:
        counts[hw] = counts.get(hw, 0) + 1
        examples.setdefault(hw, printable(f.relative_to(root)))
    if len(counts) == 1:
        return next(iter(counts))
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    listed = ", ".join(f"{h}x{w} ({n:,} image{'s' if n != 1 else ''}, e.g. {examples[(h, w)]})"
                       for (h, w), n in list(ordered.items())[:6])
    more = f" and {len(ordered) - 6} more sizes" if len(ordered) > 6 else ""
    raise ImageSizeError(
        f"{printable(root.name)}: the images have {len(ordered)} different sizes: {listed}{more}; "
        "choose one size (height x width) to resize them all to",
        ordered, {k: examples[k] for k in ordered},
    )


def _as_hw(size: int | Sequence[int]) -> tuple[int, int]:
    hw = (int(size), int(size)) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    if len(hw) != 2 or not (1 <= hw[0] <= 4096 and 1 <= hw[1] <= 4096):
        raise ValueError(f"image size must be (height, width) of 1 to 4096 pixels each, got {size}")
    return hw  # type: ignore[return-value]


def _pick_channels(color: str, gray: np.ndarray, channels: int | None) -> tuple[int, str | None]:
    """Channel count for the set and a note when the design's channel count decided it."""
    if color == "grayscale":
        return 1, None
    if color == "rgb":
        return 3, None
    if gray.all():
        return (3, None) if channels == 3 else (1, None)
    if not gray.any() or channels not in (1, 3):
        return 3, None
    n_gray = int(gray.sum())
    read = "gray" if channels == 1 else "colour"
    return channels, (f"{n_gray:,} of {gray.size:,} images are gray, the others colour; all were read "
                      f"as {read} for the design's {channels} input channel{'s' if channels != 1 else ''}")


def load_image_folder(
    path: PathLike,
    size: int | Sequence[int] | None = None,
    color: str = "auto",
    name: str | None = None,
    *,
    channels: int | None = None,
    split: str = "train",
    class_names: Sequence[str] | None = None,
) -> Dataset:
    """A folder with one subfolder of images per class (class names: subfolder names sorted).

    ``size`` = (height, width) (or one int) resizes every image; by default the images keep
    their own size when they all agree, otherwise :class:`ImageSizeError` lists the sizes
    found. ``color``: "grayscale", "rgb" or "auto" (gray when every image is gray; when
    gray and colour images are mixed, ``channels`` — the design's channel count — decides,
    else RGB). ``split="test"`` reads the ``test/`` part (see :func:`image_folder_classes`);
    ``class_names`` (e.g. a trained model's) fixes the class order. Transparent areas become
    black; subfolders without images are ignored. Sizes are checked against the memory
    budget before any pixel is decoded.
    """
    root = Path(path)
    if not root.exists():
        raise _fail(root, f"no such folder ({printable(root)})")
    if not root.is_dir():
        raise _fail(root, "is not a folder (expected one subfolder of images per class)")
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
    reference, classes = image_folder_classes(root, split)
    names = list(class_names) if class_names is not None else reference
    unknown = [c for c, _ in classes if c not in names]
    if unknown:
        raise _fail(root, f"class folder(s) {', '.join(unknown[:5])} of the {split} part are not among the "
                          f"classes {', '.join(names[:20])}")
    files = [f for _, fs in classes for f in fs]
    y = np.concatenate([np.full(len(fs), names.index(c), dtype=np.int64) for c, fs in classes])
    headers = [(f, read_header(f, root).size) for f in files]
    hw = _as_hw(size) if size is not None else _choose_size(root, headers)
    per_image = hw[0] * hw[1] * (3 + 3 * 4)  # the RGB bytes, then up to three float32 channels
    if (message := over_budget(len(files) * per_image, f"{len(files):,} images of {hw[0]}x{hw[1]}")):
        raise _fail(root, message)
    stack = np.empty((len(files), hw[0], hw[1], 3), dtype=np.uint8)
    for i, f in enumerate(files):
        stack[i] = read_rgb(f, hw, root)
    gray = (stack[..., 0] == stack[..., 1]).all(axis=(1, 2)) & (stack[..., 1] == stack[..., 2]).all(axis=(1, 2))
    n_channels, note = _pick_channels(color, gray, channels)
    x = luma(stack)[:, None] if n_channels == 1 else stack.transpose(0, 3, 1, 2)
    del stack
    x = x.astype(np.float32)
    x /= 255.0
    notes = [note] if note else []
    resized = sum(1 for _, own in headers if own != hw)
    if resized:
        own = sorted({own for _, own in headers if own != hw})
        sizes = ", ".join(f"{h}x{w}" for h, w in own[:4]) + (" ..." if len(own) > 4 else "")
        notes.append(f"resized {resized:,} of {len(files):,} images from {sizes} to {hw[0]}x{hw[1]}")
    return Dataset(x=x, y=y, class_names=names, name=name or printable(root.name), source=str(root), notes=notes)


# --------------------------------------------------------------------------- CSV


def _first_lines(path: Path) -> tuple[str, str | None]:
    """The first line and the first later non-blank line of a UTF-8 text file."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            second = None
            for line in fh:
                if line.strip():
                    second = line
                    break
    except UnicodeDecodeError as exc:
        raise _fail(path, f"is not a UTF-8 text CSV file ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise _fail(path, f"cannot read the file ({exc})") from exc
    if "\x00" in first:
        raise _fail(path, "is not a text CSV file (it contains NUL bytes)")
    return first, second


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(
    path: PathLike,
    label_column: str | int = "label",
    image_shape: Sequence[int] | None = None,
    name: str | None = None,
) -> Dataset:
    """A CSV file with one sample per row: a label column and the pixel values.

    The Kaggle MNIST layout (header ``label,pixel0,...,pixel783``) works as is. ``label_column``
    is a header name or a column index (without a header the label is column 0 unless an index
    is given). Pixels are row-major, channel-first when there are several channels; the image
    shape is inferred when square (gray, or three channels), otherwise pass ``image_shape``.
    Values above 1 are taken as 0..255. Labels are non-negative integers or, failing that,
    class names (sorted alphabetically).
    """
    p, size = _existing_file(path)
    # every value takes at least two characters ("0,") and becomes 4 bytes, read twice at worst
    if (message := over_budget(4 * size, f"reading a CSV table of {size:,} bytes")):
        raise _fail(p, message)
    first, second = _first_lines(p)
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    fields = [f.strip().strip('"').strip() for f in first.rstrip("\r\n").split(delimiter)]
    header = not all(_is_number(f) for f in fields)
    if header and second is None or not first.strip():
        raise _fail(p, "has no data rows")
    if isinstance(label_column, (int, np.integer)):
        idx = int(label_column)
    elif header:
        lowered = [f.lower() for f in fields]
        if str(label_column).lower() not in lowered:
            raise _fail(
                p, f"has no {label_column!r} column; the header starts with {', '.join(fields[:5])[:120]}"
            )
        idx = lowered.index(str(label_column).lower())
    else:
        idx = 0
    ncols = len(fields)
    if ncols < 2:
        raise _fail(p, "needs a label column and at least one pixel column")
    if not -ncols <= idx < ncols:
        raise _fail(p, f"label column {idx} does not exist; rows have {ncols} columns")
    idx %= ncols
    skip = 1 if header else 0
    kwargs: dict[str, Any] = dict(delimiter=delimiter, skiprows=skip, ndmin=2, encoding="utf-8-sig", quotechar='"')
    pixel_cols = [c for c in range(ncols) if c != idx]
    string_labels: np.ndarray | None = None
    try:
        try:
            try:
                data = np.loadtxt(p, dtype=np.int32, **kwargs)  # integers parse ~8x faster
            except (ValueError, OverflowError):
                data = np.loadtxt(p, dtype=np.float32, **kwargs)
        except ValueError as exc:
            # maybe the labels are class names: read the pixels and the labels apart
            try:
                pixels = np.loadtxt(p, dtype=np.float32, usecols=pixel_cols, **kwargs)
                string_labels = np.loadtxt(p, dtype=str, usecols=[idx], **kwargs)[:, 0]
            except ValueError:
                reason = str(exc).split("; use `usecols`")[0]
                raise _fail(p, f"is not a numeric CSV table: {reason}") from exc
        else:
            if data.shape[1] != ncols:
                raise _fail(p, f"the first line has {ncols} columns but the rows have {data.shape[1]}")
            pixels = data[:, pixel_cols]
            raw = data[:, idx]
            del data
    except OSError as exc:
        raise _fail(p, f"cannot read the file ({exc})") from exc
    if pixels.shape[0] == 0:
        raise _fail(p, "has no data rows")
    if string_labels is not None:
        names_arr, y = np.unique(np.char.strip(string_labels), return_inverse=True)
        class_names = [str(s) for s in names_arr]
        y = y.astype(np.int64).reshape(-1)
    else:
        if raw.dtype.kind == "f" and (not np.isfinite(raw).all() or not (raw == np.round(raw)).all()):
            i = int(np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))[0])
            raise _fail(p, f"label {float(raw[i]):g} in data row {i + 1} is not a whole number")
        if (raw < 0).any():
            i = int(np.flatnonzero(raw < 0)[0])
            raise _fail(p, f"label {float(raw[i]):g} in data row {i + 1} is negative")
        top = int(np.argmax(raw))
        if (message := class_count_problem(float(raw[top]))):
            raise _fail(p, f"{message} (data row {top + 1})")
        y = raw.astype(np.int64)
        class_names = _default_class_names(p, y)
    shape = _infer_image_shape(p, pixels.shape[1]) if image_shape is None else _as_image_shape(
        p, image_shape, pixels.shape[1]
    )
    x = _unit_scale(p, pixels).reshape(len(pixels), *shape)
    return Dataset(x=x, y=y, class_names=class_names, name=name or p.name, source=str(p))


# --------------------------------------------------------------------------- NPZ

_NPZ_KEYS = {
    "train": (("x", "y"), ("images", "labels"), ("x_train", "y_train"), ("X", "y"), ("X_train", "y_train")),
    "test": (("x_test", "y_test"), ("X_test", "y_test"), ("x", "y"), ("images", "labels")),
}


def _npz_array(npz: Any, key: str, path: Path, file_size: int) -> np.ndarray:
    """One member of an open NpzFile, after checking its header against the archive sizes."""
    members = {n[:-4] if n.endswith(".npy") else n: n for n in npz.zip.namelist()}
    info = npz.zip.getinfo(members[key])
    try:
        with npz.zip.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise _fail(path, f"array {key!r} has an unknown .npy format version {version}")
            header_len = fh.tell()
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, KeyError) as exc:
        raise _fail(path, f"array {key!r} is damaged ({exc})") from exc
    if dtype.hasobject:
        raise _fail(
            path,
            f"array {key!r} holds Python objects ({dtype}), which only pickle can load; guicnn refuses "
            "pickled data (store numbers, and class names as a string array)",
        )
    nbytes = math.prod(shape) * dtype.itemsize
    declared = f"array {key!r} declares shape {shape} of {dtype}"
    if (message := implausible_compression(nbytes, info.compress_size, declared)):
        raise _fail(path, message)
    # the stored array, then its float32 copy
    if (message := over_budget(nbytes + 4 * math.prod(shape), f"array {key!r} of shape {shape} ({dtype})")):
        raise _fail(path, message)
    if info.file_size != header_len + nbytes:
        raise _fail(
            path,
            f"array {key!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) but its archive "
            f"member holds {max(info.file_size - header_len, 0):,} bytes",
        )
    if info.compress_size > file_size or info.file_size > max(info.compress_size, 1) * MAX_DEFLATE_RATIO + 4096:
        raise _fail(path, f"array {key!r} is damaged or truncated (inconsistent sizes in the archive)")
    try:
        return npz[key]
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise _fail(path, f"array {key!r} cannot be read ({exc})") from exc


def _images_to_nchw(path: Path, x: np.ndarray, layout: str | None) -> np.ndarray:
    if x.ndim == 2:
        shape = _infer_image_shape(path, x.shape[1])
        return x.reshape(len(x), *shape)
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim != 4:
        raise _fail(path, f"images must be NHW, NCHW or NHWC, got shape {x.shape}")
    if layout is not None:
        if layout.upper() not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
        return x if layout.upper() == "NCHW" else x.transpose(0, 3, 1, 2)
    first, last = x.shape[1] <= 4, x.shape[3] <= 4
    if first and not last:
        return x
    if last and not first:
        return x.transpose(0, 3, 1, 2)
    if first and last:
        return x  # tiny images: guicnn's own layout
    raise _fail(path, f"cannot tell the channel axis of images shaped {x.shape}; pass layout='NCHW' or 'NHWC'")


def _labels_1d(path: Path, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[0] == n and y.shape[1] > 1:
        # one-hot rows
        if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (0, 1)).all() or not (y.sum(axis=1) == 1).all():
            raise _fail(path, f"2-D labels of shape {y.shape} are not one-hot rows")
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise _fail(path, f"labels must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise _fail(path, f"holds {n:,} images but {y.shape[0]:,} labels")
    if y.size and (np.issubdtype(y.dtype, np.number)) and not np.issubdtype(y.dtype, np.complexfloating):
        with np.errstate(invalid="ignore"):
            top = np.nanmax(y) if np.issubdtype(y.dtype, np.floating) and not np.isnan(y).all() else y.max()
        if (message := class_count_problem(float(top))):
            raise _fail(path, message)
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise _fail(path, "labels must be whole numbers")
        return y.astype(np.int64)
    raise _fail(path, f"labels must be integers, got dtype {y.dtype}")


def load_npz(path: PathLike, split: str = "train", layout: str | None = None, name: str | None = None) -> Dataset:
    """An ``.npz`` archive with images and labels under ``x``/``y`` (or ``images``/``labels``,
    or ``x_train``/``y_train``; ``split="test"`` reads ``x_test``/``y_test``).

    Images may be NHW, NCHW, NHWC (told apart by which axis has at most 4 entries, or by
    ``layout``) or flat; uint8 and values above 1 are scaled from 0..255. An optional
    ``class_names`` string array names the classes. Pickled (object) arrays are refused.
    """
    p, file_size = _existing_file(path)
    if split not in _NPZ_KEYS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    # Open the file here (not by name in np.load), so that it is closed even when NumPy
    # fails half-way through opening a damaged archive.
    with open(p, "rb") as fh:
        head = fh.read(6)
        fh.seek(0)
        if head == b"\x93NUMPY":
            raise _fail(p, "holds a single .npy array, not an .npz archive with images and labels (x and y)")
        if head[:4] != _ZIP_MAGIC:
            raise _fail(p, "is not an .npz archive (it does not start with the zip signature)")
        try:
            npz = np.load(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise _fail(p, f"is not a readable .npz archive ({exc})") from exc
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise _fail(p, "holds a single array, not an .npz archive with images and labels (x and y)")
        with npz:
            keys = set(npz.files)
            pair = next(((a, b) for a, b in _NPZ_KEYS[split] if a in keys and b in keys), None)
            if pair is None:
                raise _fail(
                    p,
                    f"has no image and label arrays for split {split!r}: expected x and y (or images and "
                    f"labels, x_train and y_train, x_test and y_test); found {sorted(keys) or 'no arrays'}",
                )
            x_raw = _npz_array(npz, pair[0], p, file_size)
            y_raw = _npz_array(npz, pair[1], p, file_size)
            names_raw = _npz_array(npz, "class_names", p, file_size) if "class_names" in keys else None
    x = _images_to_nchw(p, x_raw, layout)
    if x.shape[0] == 0:
        raise _fail(p, "holds no samples")
    y = _labels_1d(p, y_raw, x.shape[0])
    if names_raw is not None:
        if names_raw.ndim != 1 or names_raw.dtype.kind not in "US" or names_raw.size == 0:
            raise _fail(p, f"class_names must be a 1-D string array, got {names_raw.dtype} of shape {names_raw.shape}")
        try:
            class_names = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in names_raw.tolist()]
        except UnicodeDecodeError as exc:
            raise _fail(p, f"class_names are not UTF-8 ({exc})") from exc
    else:
        if (y < 0).any():
            raise _fail(p, f"label {int(y[np.flatnonzero(y < 0)[0]])} is negative")
        class_names = _default_class_names(p, y)
    _check_labels(p, y, class_names)
    return Dataset(
        x=_unit_scale(p, x), y=y, class_names=class_names, name=name or p.name, source=str(p)
    )
