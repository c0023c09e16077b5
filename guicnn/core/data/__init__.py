"""Data for guicnn: built-in sets, file loaders, downloads, splitting, normalisation, augmentation.

Pure NumPy (+ Pillow for image folders); no Qt. Every reader raises
:class:`guicnn.core.errors.DataError` naming the file and what was wrong.
"""

from __future__ import annotations

from ..errors import DataError
from .auto import (
    BUILTIN_DATASETS,
    BUILTIN_SHAPES,
    DataSuggestion,
    data_credits,
    dataset_names,
    is_image_folder,
    load_dataset,
    suggest_data,
)
from .builtin import load_digits
from .dataset import Dataset, Normalization, augment_batch, one_hot, train_val_split, validation_count
from .download import (
    DATASETS,
    DownloadCancelled,
    RemoteDataset,
    RemoteFile,
    cache_dir,
    dataset_dir,
    download,
    is_downloaded,
    safe_extract_tar,
    sha256_file,
)
from .images import read_image
from .loaders import (
    CIFAR10_CLASSES,
    ImageSizeError,
    load_cifar10,
    load_csv,
    load_idx,
    load_image_folder,
    load_npz,
    read_idx,
)
from .shapes import DEFAULT_SHAPE_CLASSES, SHAPE_CLASSES, make_shapes, make_shapes_rgb

__all__ = [
    "BUILTIN_DATASETS",
    "BUILTIN_SHAPES",
    "CIFAR10_CLASSES",
    "DATASETS",
    "DEFAULT_SHAPE_CLASSES",
    "DataError",
    "DataSuggestion",
    "Dataset",
    "DownloadCancelled",
    "ImageSizeError",
    "Normalization",
    "RemoteDataset",
    "RemoteFile",
    "SHAPE_CLASSES",
    "augment_batch",
    "cache_dir",
    "data_credits",
    "dataset_dir",
    "dataset_names",
    "download",
    "is_downloaded",
    "is_image_folder",
    "load_cifar10",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_image_folder",
    "load_npz",
    "make_shapes",
    "make_shapes_rgb",
    "one_hot",
    "read_image",
    "read_idx",
    "safe_extract_tar",
    "sha256_file",
    "suggest_data",
    "train_val_split",
    "validation_count",
]
